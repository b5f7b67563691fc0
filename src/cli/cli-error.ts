import type { ErrorCode } from '../domain/errors.js';
import { formatProblem } from '../policy/policy-error.js';
import type { PolicyProblem } from '../policy/policy-types.js';

/** Failures the CLI detects itself, before or instead of an answer from the server. */
export type LocalErrorCode = 'USAGE' | 'UNREACHABLE' | 'BAD_RESPONSE' | 'FILE_UNREADABLE' | 'TESTS_FAILED';

/**
 * A server of another version may answer with a code this CLI does not know yet; it is shown as given rather
 * than hidden, hence the open string next to the known codes.
 */
export type CliErrorCode = ErrorCode | LocalErrorCode | (string & {});

/** Exit status: 1 for a refused or failed operation, 2 for a command line that cannot be run as given. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export class CliError extends Error {
  override readonly name = 'CliError';
  readonly code: CliErrorCode;
  readonly details: Record<string, unknown> | undefined;
  /** HTTP status when the error came from the server. */
  readonly status: number | undefined;
  readonly exitCode: number;

  constructor(
    code: CliErrorCode,
    message: string,
    opts: { details?: Record<string, unknown>; status?: number; exitCode?: number } = {},
  ) {
    super(message);
    this.code = code;
    this.details = opts.details;
    this.status = opts.status;
    this.exitCode = opts.exitCode ?? (code === 'USAGE' ? EXIT_USAGE : EXIT_FAILURE);
  }
}

/**
 * A command that has already printed its outcome and only needs a non-zero exit status: a verification that
 * failed is an answer, printed as one, not an error message.
 */
export class ExitStatus extends Error {
  override readonly name = 'ExitStatus';
  readonly exitCode: number;

  constructor(exitCode: number) {
    super(`exit ${exitCode}`);
    this.exitCode = exitCode;
  }
}

export function usageError(message: string, code: CliErrorCode = 'USAGE'): CliError {
  return new CliError(code, message, { exitCode: EXIT_USAGE });
}

const isObject = (v: unknown): v is object => v !== null && typeof v === 'object';

function isLocatedProblem(v: unknown): v is PolicyProblem {
  if (!isObject(v)) return false;
  const p = v as Record<string, unknown>;
  return typeof p.file === 'string' && typeof p.line === 'number' && typeof p.message === 'string';
}

/** One entry of a details list: a located policy problem, a `{ path, message }` schema problem, or JSON. */
function formatDetailItem(v: unknown): string {
  if (isLocatedProblem(v)) return formatProblem(v);
  if (isObject(v) && typeof (v as { message?: unknown }).message === 'string') {
    const { path, field, message } = v as { path?: unknown; field?: unknown; message: string };
    const where = typeof path === 'string' ? path : typeof field === 'string' ? field : '';
    return where ? `${where}: ${message}` : message;
  }
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * `error [CODE]: message`, then the details: lists of problems one per line (policy problems as
 * `file:line:column: field: message`), anything else as `key: value`.
 */
export function formatCliError(e: CliError): string {
  const details = e.details ?? {};
  // A message that already spells out its problems (PolicyError does) keeps its summary line: the list follows.
  const listed = Object.values(details).some((v) => Array.isArray(v) && v.some(isObject));
  const message = listed ? (e.message.split('\n')[0] ?? e.message) : e.message;
  const lines = [`error [${e.code}]: ${message}`];
  for (const [key, value] of Object.entries(details)) {
    if (Array.isArray(value) && value.some(isObject)) {
      for (const item of value) lines.push(`  ${formatDetailItem(item)}`);
    } else if (Array.isArray(value)) {
      lines.push(`  ${key}: ${value.map(String).join(', ')}`);
    } else if (value !== undefined && value !== null) {
      lines.push(`  ${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
