import { expect } from 'vitest';
import { stringify } from 'yaml';
import { isStintError, type StintError } from '../../src/domain/errors.js';
import { PolicyError } from '../../src/policy/policy-error.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import type { Policy, PolicyProblem } from '../../src/policy/policy-types.js';

/**
 * A valid policy as plain data: tests clone it, break one thing, and turn it into YAML. dave is eligible for
 * prod-db-admin but has no manager, which is legal (a note) and refused at request time.
 */
export const BASE = {
  version: 1,
  settings: { deployment: 'acme-prod', hardCap: '4h', pendingTimeout: '24h' },
  users: [
    { id: 'alice', email: 'alice@example.com', name: 'Alice', manager: 'carol', teams: ['payments'] },
    { id: 'bob', email: 'bob@example.com', manager: 'carol', teams: ['payments'] },
    { id: 'nina', email: 'nina@example.com', manager: 'carol', teams: ['payments', 'search'] },
    { id: 'carol', email: 'carol@example.com', teams: ['leads'] },
    { id: 'sam', email: 'sam@example.com', teams: ['security'], security: true },
    { id: 'dave', email: 'dave@example.com', teams: ['security'], security: true },
    { id: 'erin', email: 'erin@example.com', teams: ['audit'], auditor: true },
    { id: 'root', email: 'root@example.com', admin: true },
  ],
  resources: [
    {
      id: 'prod-db',
      kind: 'postgres',
      description: 'Production database',
      sensitivity: 'critical',
      connection: { env: 'STINT_PROD_DB_URL' },
      roles: {
        admin: { description: 'Full DDL/DML', grants: ['app_admin'] },
        read: { description: 'Read only', grants: ['app_read'] },
      },
    },
    {
      id: 'staging-db',
      kind: 'postgres',
      sensitivity: 'routine',
      connection: { file: '/run/secrets/staging-db-url' },
      roles: { read: { grants: ['app_read'] }, write: { grants: ['app_write'] } },
    },
  ],
  rules: [
    {
      id: 'prod-db-admin',
      resources: ['prod-db'],
      roles: ['admin'],
      who: { teams: ['payments'], users: ['dave'] },
      duration: { default: '1h', max: '4h' },
      ticket: { required: true, patterns: ['^INC-\\d+$', '^CHG-\\d+$', '^https://tracker\\.example\\.com/'] },
      approval: ['manager', 'two-person'],
    },
    {
      id: 'prod-db-read',
      resources: ['prod-db'],
      roles: ['read'],
      who: { teams: ['payments', 'search'] },
      duration: { default: '2h', max: '4h' },
      approval: ['peer'],
    },
    {
      id: 'staging',
      resources: ['staging-db'],
      roles: ['*'],
      who: { teams: ['payments', 'security'] },
      duration: { default: '30m', max: '2h' },
      approval: ['auto'],
    },
  ],
};

/** BASE as YAML, after `edit` changed a deep copy of it. */
// biome-ignore lint/suspicious/noExplicitAny: tests break the policy's shape on purpose, which no type allows
export function policyText(edit: (p: any) => void = () => {}): string {
  const data = structuredClone(BASE);
  edit(data);
  return stringify(data);
}

export function basePolicy(): Policy {
  return parsePolicy(policyText(), 'stint.yaml');
}

/** 1-based line of the first line containing `needle`, searching from line `from`. */
export function lineOf(text: string, needle: string, from = 1): number {
  const lines = text.split('\n');
  for (let i = from - 1; i < lines.length; i++) if (lines[i]?.includes(needle)) return i + 1;
  throw new Error(`"${needle}" is not in the text`);
}

/** The problems parsePolicy throws for `text`; fails the test when it loads. */
export function problemsOf(text: string, file = 'stint.yaml'): PolicyProblem[] {
  try {
    parsePolicy(text, file);
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyError);
    return (e as PolicyError).problems;
  }
  throw new Error('expected the policy to be refused');
}

/** The one problem at `field`; fails when there is none. */
export function problemAt(problems: PolicyProblem[], field: string): PolicyProblem {
  const found = problems.find((p) => p.field === field);
  if (found === undefined) {
    throw new Error(
      `no problem at ${field}; got:\n${problems.map((p) => `${p.field}: ${p.message}`).join('\n')}`,
    );
  }
  return found;
}

export function stintErrorOf(run: () => unknown): StintError {
  try {
    run();
  } catch (e) {
    if (isStintError(e)) return e;
    throw e;
  }
  throw new Error('expected a StintError');
}
