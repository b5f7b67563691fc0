import { StintError } from '../domain/errors.js';
import type { PolicyProblem } from './policy-types.js';

/** `file:line:column: field: message`, the shape editors and CI annotators already understand. */
export function formatProblem(p: PolicyProblem): string {
  const field = p.field === '' ? '' : `${p.field}: `;
  return `${p.file}:${p.line}:${p.column}: ${field}${p.message}`;
}

export function sortProblems(problems: readonly PolicyProblem[]): PolicyProblem[] {
  return [...problems].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}

/**
 * A policy (or policy test file) that cannot be used. Thrown with every problem found, so one edit-run cycle
 * fixes them all; a policy with any problem is never loaded in part.
 */
export class PolicyError extends StintError {
  readonly problems: PolicyProblem[];

  constructor(problems: readonly PolicyProblem[]) {
    const sorted = sortProblems(problems);
    const count = sorted.length === 1 ? '1 problem' : `${sorted.length} problems`;
    const file = sorted[0]?.file ?? 'policy';
    super('POLICY_INVALID', `${file} is invalid (${count}):\n${sorted.map(formatProblem).join('\n')}`, {
      problems: sorted,
    });
    this.problems = sorted;
  }
}

export function isPolicyError(e: unknown): e is PolicyError {
  return e instanceof PolicyError;
}
