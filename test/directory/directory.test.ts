import { describe, expect, it } from 'vitest';
import {
  createDirectory,
  type DirectorySource,
  mergeDirectory,
  withDirectory,
} from '../../src/directory/directory.js';
import { evaluateRequest } from '../../src/policy/policy-evaluator.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import type { DirectoryUser } from '../../src/policy/policy-types.js';
import { TEST_POLICY } from '../support/test-policy.js';

const person = (id: string, extra: Partial<DirectoryUser> = {}): DirectoryUser => ({
  id,
  email: `${id}@example.com`,
  name: id,
  manager: null,
  teams: [],
  security: false,
  admin: false,
  auditor: false,
  onCall: false,
  ...extra,
});

const map = (...users: DirectoryUser[]) => new Map(users.map((u) => [u.id, u]));

/** A source whose contents the test changes, as SCIM or LDAP would. */
function fakeSource(name: string, initial: DirectoryUser[], suspended: string[] = []) {
  let users = map(...initial);
  let off = new Set(suspended);
  let version = 0;
  const listeners: (() => void)[] = [];
  const source: DirectorySource = {
    name,
    users: () => users,
    suspended: () => off,
    version: () => String(version),
    health: () => ({ source: name, ok: true, lastSuccessAt: null, error: null, users: users.size }),
    subscribe: (l) => listeners.push(l),
  };
  return {
    source,
    set(next: DirectoryUser[], nextSuspended: string[] = []) {
      users = map(...next);
      off = new Set(nextSuspended);
      version++;
      for (const l of listeners) l();
    },
  };
}

describe('mergeDirectory', () => {
  it('takes each person whole from the first source that knows them, YAML last', () => {
    const { users, conflicts } = mergeDirectory([
      { name: 'scim', users: map(person('ann', { teams: ['payments'] })), suspended: new Set() },
      { name: 'ldap', users: map(person('ann', { security: true }), person('ben')), suspended: new Set() },
      { name: 'yaml', users: map(person('ben', { admin: true }), person('cat')), suspended: new Set() },
    ]);
    expect([...users.keys()].sort()).toEqual(['ann', 'ben', 'cat']);
    // No field-by-field mixing: a lower source cannot add security or admin to someone.
    expect(users.get('ann')).toMatchObject({ teams: ['payments'], security: false });
    expect(users.get('ben')).toMatchObject({ admin: false });
    expect(conflicts.map((c) => [c.userId, c.source])).toEqual([
      ['ann', 'ldap'],
      ['ben', 'yaml'],
    ]);
  });

  it('lets a suspension in any source win over a listing in a lower one', () => {
    const { users } = mergeDirectory([
      { name: 'scim', users: new Map(), suspended: new Set(['dan']) },
      { name: 'yaml', users: map(person('dan')), suspended: new Set() },
    ]);
    expect(users.has('dan')).toBe(false);
  });

  it('drops a lower record whose email belongs to another id', () => {
    const { users, conflicts } = mergeDirectory([
      { name: 'scim', users: map(person('ann.smith', { email: 'Ann@Example.com' })), suspended: new Set() },
      { name: 'yaml', users: map(person('ann', { email: 'ann@example.com' })), suspended: new Set() },
    ]);
    expect([...users.keys()]).toEqual(['ann.smith']);
    expect(conflicts[0]?.reason).toMatch(/already belongs to ann.smith/);
  });

  it('clears a manager who is not in the merged directory', () => {
    const { users } = mergeDirectory([
      { name: 'yaml', users: map(person('eve', { manager: 'gone' })), suspended: new Set() },
    ]);
    expect(users.get('eve')?.manager).toBeNull();
  });
});

describe('createDirectory', () => {
  it('indexes by email, versions by content and reports people who left', () => {
    const scim = fakeSource('scim', [person('ann', { teams: ['a'] }), person('ben')]);
    const removed: string[][] = [];
    const directory = createDirectory({
      yaml: () => map(person('yan')),
      sources: [scim.source],
      onRemoved: (ids) => removed.push(ids),
    });
    expect(directory.byEmail('ANN@example.com')?.id).toBe('ann');
    const v1 = directory.version();
    scim.set([person('ann', { teams: ['a'] }), person('ben')]);
    expect(directory.version()).toBe(v1);
    scim.set([person('ann', { teams: ['b'] })]);
    expect(directory.version()).not.toBe(v1);
    expect(removed).toEqual([['ben']]);
    expect(directory.get('ben')).toBeUndefined();
    expect(directory.get('yan')).toBeDefined();
  });

  it('feeds evaluation through withDirectory: a removed person is an unknown user', () => {
    const policy = parsePolicy(TEST_POLICY, 'test-policy.yaml');
    const holder = { current: () => policy };
    const pat = person('pat', { teams: ['payments'] });
    const scim = fakeSource('scim', [pat]);
    const directory = createDirectory({ yaml: () => policy.users, sources: [scim.source] });
    const merged = withDirectory(holder, directory);
    const input = { requester: 'pat', resource: 'staging-db', role: 'read', reason: 'debug' };
    expect(evaluateRequest(merged.current(), input).ruleId).toBe('staging');
    scim.set([pat], []);
    scim.set([]);
    expect(() => evaluateRequest(merged.current(), input)).toThrow(
      expect.objectContaining({ code: 'UNKNOWN_USER' }),
    );
    // YAML people are still there, and moving pat to another team makes them not eligible.
    expect(merged.current().users.has('alice')).toBe(true);
    scim.set([{ ...pat, teams: ['leads'] }]);
    expect(() => evaluateRequest(merged.current(), input)).toThrow(
      expect.objectContaining({ code: 'NOT_ELIGIBLE' }),
    );
  });
});
