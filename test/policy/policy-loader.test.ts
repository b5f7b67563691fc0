import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PolicyError } from '../../src/policy/policy-error.js';
import { loadPolicyFile, parsePolicy } from '../../src/policy/policy-loader.js';
import { BASE, lineOf, policyText, problemAt, problemsOf } from './fixtures.js';

describe('parsePolicy: a valid policy', () => {
  const text = policyText();
  const policy = parsePolicy(text, 'stint.yaml');

  it('builds the directory, resources and rules in file order', () => {
    expect([...policy.users.keys()]).toEqual(BASE.users.map((u) => u.id));
    expect(policy.users.get('alice')).toEqual({
      id: 'alice',
      email: 'alice@example.com',
      name: 'Alice',
      manager: 'carol',
      teams: ['payments'],
      security: false,
      admin: false,
      auditor: false,
      onCall: false,
    });
    // Optional fields take their defaults: the name falls back to the id, no manager is null.
    expect(policy.users.get('sam')).toMatchObject({ name: 'sam', manager: null, security: true });
    expect(policy.resources.get('prod-db')).toMatchObject({
      kind: 'postgres',
      sensitivity: 'critical',
      connection: { env: 'STINT_PROD_DB_URL' },
      roles: { admin: { name: 'admin', description: 'Full DDL/DML', grants: ['app_admin'] } },
    });
    expect(policy.resources.get('staging-db')?.connection).toEqual({ file: '/run/secrets/staging-db-url' });
    expect(policy.rules.map((r) => r.id)).toEqual(['prod-db-admin', 'prod-db-read', 'staging']);
  });

  it('turns durations into seconds and compiles ticket patterns', () => {
    expect(policy.settings).toEqual({
      deployment: 'acme-prod',
      hardCapSeconds: 4 * 3600,
      pendingTimeoutSeconds: 86400,
      minDurationSeconds: 5 * 60,
      allowSharedDeploymentName: false,
    });
    const rule = policy.rules[0];
    expect(rule).toMatchObject({ defaultDurationSeconds: 3600, maxDurationSeconds: 4 * 3600 });
    expect(rule?.eligible).toEqual({ teams: ['payments'], users: ['dave'], onCall: false });
    expect(rule?.ticket.required).toBe(true);
    expect(rule?.ticket.patterns.map((p) => p.test('INC-42'))).toEqual([true, false, false]);
    // A rule without a ticket block needs no ticket (a reason is still required at request time).
    expect(policy.rules[1]?.ticket).toEqual({ required: false, patterns: [] });
  });

  it('versions the policy by the first 12 hex characters of the sha256 of its text', () => {
    expect(policy.version).toBe(createHash('sha256').update(text).digest('hex').slice(0, 12));
    expect(policy.source).toBe(text);
    expect(parsePolicy(`${text}# a comment changes the version\n`, 'stint.yaml').version).not.toBe(
      policy.version,
    );
  });

  it('defaults the settings: deployment stint, hard cap 4h, pending timeout 24h', () => {
    const bare = parsePolicy(
      policyText((p) => {
        delete p.settings;
      }),
      'stint.yaml',
    );
    expect(bare.settings).toEqual({
      deployment: 'stint',
      hardCapSeconds: 4 * 3600,
      pendingTimeoutSeconds: 24 * 3600,
      minDurationSeconds: 5 * 60,
      allowSharedDeploymentName: false,
    });
  });

  it('notes an eligible requester who could never be approved, and still loads', () => {
    // dave may ask for prod-db admin, which needs his manager, and he has none.
    expect(policy.notes).toHaveLength(1);
    expect(policy.notes[0]).toMatchObject({
      field: 'rules[0].approval',
      line: lineOf(text, 'approval:'),
      message: expect.stringContaining('dave has no manager in the directory'),
    });
  });

  it('notes a team nobody is in and a resource no rule covers', () => {
    const t = policyText((p) => {
      p.rules[1].who.teams.push('paymnets');
      p.resources.push({
        id: 'orphan-db',
        kind: 'postgres',
        sensitivity: 'routine',
        connection: { env: 'ORPHAN' },
        roles: { read: { grants: ['r'] } },
      });
    });
    const notes = parsePolicy(t, 'stint.yaml').notes;
    expect(problemAt(notes, 'rules[1].who.teams[2]').message).toBe('no user is in team "paymnets"');
    expect(problemAt(notes, 'resources[2].id').message).toContain('no rule covers resource "orphan-db"');
  });
});

describe('parsePolicy: located problems', () => {
  it('names an unknown field, its line and the field probably meant', () => {
    const text = policyText((p) => {
      p.resources[0].sensitivty = p.resources[0].sensitivity;
      delete p.resources[0].sensitivity;
      p.rules[1].aproval = p.rules[1].approval;
      delete p.rules[1].approval;
    });
    let error: unknown;
    try {
      parsePolicy(text, 'policies/stint.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PolicyError);
    const e = error as PolicyError;
    expect(e.code).toBe('POLICY_INVALID');
    expect(e.status).toBe(422);
    const typo = problemAt(e.problems, 'resources[0].sensitivty');
    expect(typo).toEqual({
      file: 'policies/stint.yaml',
      line: lineOf(text, 'sensitivty:'),
      column: 5,
      field: 'resources[0].sensitivty',
      message: 'unknown field "sensitivty" (did you mean "sensitivity"?)',
    });
    expect(problemAt(e.problems, 'rules[1].aproval')).toMatchObject({
      line: lineOf(text, 'aproval:'),
      message: 'unknown field "aproval" (did you mean "approval"?)',
    });
    // The required fields are now missing too, reported at the map that lacks them.
    expect(problemAt(e.problems, 'resources[0].sensitivity').message).toBe('required field is missing');
    expect(problemAt(e.problems, 'rules[1].approval').message).toBe('required field is missing');
    expect(e.message).toContain(
      `policies/stint.yaml:${typo.line}:5: resources[0].sensitivty: unknown field "sensitivty" (did you mean "sensitivity"?)`,
    );
    expect(e.message.split('\n')).toHaveLength(1 + e.problems.length);
  });

  it('locates YAML syntax errors', () => {
    const text = 'version: 1\nusers:\n  - { id: alice, email: a@example.com\nresources: []\n';
    const [p] = problemsOf(text);
    // The parser notices the missing } where the next key starts.
    expect(p).toMatchObject({ file: 'stint.yaml', line: 4, column: 1, field: '' });
    const tabs = problemsOf('version: 1\n\tusers: []\n')[0];
    expect(tabs).toMatchObject({
      line: 2,
      column: 1,
      message: 'invalid YAML: Tabs are not allowed as indentation',
    });
    expect(p?.message).toMatch(/^invalid YAML: Flow map .* must .* end with a }/);
  });

  it('refuses a duplicate key, naming it', () => {
    const text = 'version: 1\nusers: []\nresources: []\nrules: []\nusers: []\n';
    expect(problemsOf(text)).toEqual([
      {
        file: 'stint.yaml',
        line: 5,
        column: 1,
        field: 'users',
        message: 'duplicate key: each key may appear once in a map',
      },
    ]);
  });

  it('refuses an empty file, a list, several documents and another format version', () => {
    expect(problemsOf('')[0]).toMatchObject({ line: 1, column: 1, message: 'expected a map, got nothing' });
    expect(problemsOf('- 1\n')[0]?.message).toBe('expected a map, got a list');
    expect(problemsOf(`${policyText()}---\nversion: 1\n`)[0]?.message).toContain('single YAML document');
    expect(problemAt(problemsOf(policyText((p) => (p.version = 2))), 'version')).toMatchObject({
      line: 1,
      message: 'must be 1',
    });
  });

  it('refuses an alias without an anchor, and unknown tags', () => {
    expect(problemsOf('version: 1\nusers: *nobody\n')[0]).toMatchObject({
      line: 2,
      message: expect.stringContaining('*nobody'),
    });
    expect(problemsOf('version: !custom 1\n')[0]?.message).toContain('Unresolved tag');
  });

  it('explains type mistakes in plain words', () => {
    const text = policyText((p) => {
      p.users[0].security = 'yes';
      p.users[1].teams = 'payments';
      p.rules[0].duration.max = 3600;
      p.rules[0].duration.default = '0m';
      p.resources[0].sensitivity = 'secret';
      p.rules[0].approval = ['boss'];
    });
    const problems = problemsOf(text);
    expect(problemAt(problems, 'users[0].security').message).toBe('expected true or false, got text');
    expect(problemAt(problems, 'users[1].teams').message).toBe('expected a list, got text');
    expect(problemAt(problems, 'rules[0].duration.max').message).toBe(
      'must be a duration with a unit, e.g. 90m or 2h',
    );
    expect(problemAt(problems, 'rules[0].duration.default').message).toContain('greater than zero');
    expect(problemAt(problems, 'resources[0].sensitivity').message).toBe(
      'must be one of: routine, sensitive, critical',
    );
    expect(problemAt(problems, 'rules[0].approval[0]').message).toBe(
      'must be one of: auto, peer, manager, security, two-person',
    );
  });

  it('refuses ids outside the id grammar, including "*" as a role name', () => {
    const text = policyText((p) => {
      p.users[0].id = 'Alice Smith';
      p.resources[1].roles['*'] = { grants: ['x'] };
    });
    const problems = problemsOf(text);
    expect(problemAt(problems, 'users[0].id').message).toContain('lowercase letters');
    expect(problemAt(problems, 'resources[1].roles["*"]').line).toBe(lineOf(text, '"*":'));
  });

  it('lists every problem at once, sorted by position', () => {
    const text = policyText((p) => {
      p.users[0].email = 'not-an-email';
      p.rules[2].extra = true;
    });
    const problems = problemsOf(text);
    expect(problems.map((p) => p.field)).toEqual(['users[0].email', 'rules[2].extra']);
    expect(problems[0]?.line).toBeLessThan(problems[1]?.line as number);
  });
});

describe('parsePolicy: connections never hold secrets', () => {
  it('refuses an inline URL or password, without repeating it', () => {
    const text = policyText((p) => {
      p.resources[0].connection = { url: 'postgres://admin:hunter2@db/prod' };
      p.resources[1].connection = { env: 'X', password: 'hunter2' };
    });
    const problems = problemsOf(text);
    expect(problemAt(problems, 'resources[0].connection.url')).toMatchObject({
      line: lineOf(text, 'url: postgres://'),
      message: expect.stringContaining('inline connection details are refused'),
    });
    expect(problemAt(problems, 'resources[1].connection.password').message).toContain('refused');
    expect(JSON.stringify(problems)).not.toContain('hunter2');
  });

  it('refuses a connection string in place of the map', () => {
    const text = policyText((p) => {
      p.resources[0].connection = 'postgres://admin:hunter2@db/prod';
    });
    const p = problemAt(problemsOf(text), 'resources[0].connection');
    expect(p.message).toContain('inline connection details are refused');
    expect(p.message).not.toContain('hunter2');
  });

  it('needs exactly one of env and file', () => {
    const both = policyText((p) => {
      p.resources[0].connection = { env: 'A', file: '/run/a' };
    });
    expect(problemAt(problemsOf(both), 'resources[0].connection').message).toBe(
      'give exactly one of env or file',
    );
    const neither = policyText((p) => {
      p.resources[0].connection = {};
    });
    expect(problemAt(problemsOf(neither), 'resources[0].connection').message).toBe(
      'give exactly one of env or file',
    );
    const relative = policyText((p) => {
      p.resources[0].connection = { file: 'secrets/db' };
    });
    expect(problemAt(problemsOf(relative), 'resources[0].connection.file').message).toBe(
      'must be an absolute path',
    );
  });
});

describe('parsePolicy: cross-checks', () => {
  it('refuses duplicate ids and emails, pointing at the second and naming the first', () => {
    const text = policyText((p) => {
      p.users.push({ id: 'alice', email: 'ALICE@example.com' });
      p.resources.push({ ...p.resources[1] });
      p.rules.push({ ...p.rules[2] });
    });
    const problems = problemsOf(text);
    const firstAlice = lineOf(text, 'id: alice');
    expect(problemAt(problems, 'users[8].id')).toMatchObject({
      line: lineOf(text, 'id: alice', firstAlice + 1),
      message: `duplicate user id "alice" (first at line ${firstAlice})`,
    });
    expect(problemAt(problems, 'users[8].email').message).toContain('duplicate email "alice@example.com"');
    expect(problemAt(problems, 'resources[2].id').message).toContain('duplicate resource id "staging-db"');
    expect(problemAt(problems, 'rules[3].id').message).toContain('duplicate rule id "staging"');
  });

  it('refuses a manager who is not in the directory, and being your own manager', () => {
    const text = policyText((p) => {
      p.users[0].manager = 'zed';
      p.users[1].manager = 'bob';
    });
    const problems = problemsOf(text);
    expect(problemAt(problems, 'users[0].manager')).toMatchObject({
      line: lineOf(text, 'manager: zed'),
      message: 'unknown user "zed"',
    });
    expect(problemAt(problems, 'users[1].manager').message).toBe('bob cannot be their own manager');
  });

  it('refuses a rule naming an unknown resource, role or user', () => {
    const text = policyText((p) => {
      p.rules[0].resources.push('prod-dbb');
      p.rules[0].roles.push('superuser');
      p.rules[0].who.users.push('mallory');
      p.rules[2].roles = ['*', 'read'];
    });
    const problems = problemsOf(text);
    expect(problemAt(problems, 'rules[0].resources[1]')).toMatchObject({
      line: lineOf(text, '- prod-dbb'),
      message: 'unknown resource "prod-dbb"',
    });
    expect(problemAt(problems, 'rules[0].roles[1]').message).toBe(
      'resource "prod-db" has no role "superuser"',
    );
    expect(problemAt(problems, 'rules[0].who.users[1]').message).toBe('unknown user "mallory"');
    expect(problemAt(problems, 'rules[2].roles[0]').message).toContain('"*" already means every role');
  });

  it('checks a role against every resource of the rule', () => {
    const text = policyText((p) => {
      p.rules[1].resources = ['prod-db', 'staging-db'];
      p.rules[1].roles = ['admin'];
    });
    expect(problemAt(problemsOf(text), 'rules[1].roles[0]').message).toBe(
      'resource "staging-db" has no role "admin"',
    );
  });

  it('refuses a rule nobody may use', () => {
    const text = policyText((p) => {
      p.rules[1].who = {};
    });
    expect(problemAt(problemsOf(text), 'rules[1].who').message).toBe(
      'name at least one team or user who may ask',
    );
  });

  it('refuses a default longer than the max, and a max above the hard cap', () => {
    const text = policyText((p) => {
      p.settings.hardCap = '6h';
      p.rules[0].duration = { default: '5h', max: '4h' };
      p.rules[1].duration = { default: '1h', max: '1d' };
    });
    const problems = problemsOf(text);
    expect(problemAt(problems, 'rules[0].duration.default')).toMatchObject({
      line: lineOf(text, 'default: 5h'),
      message: 'default 5h is longer than max 4h',
    });
    expect(problemAt(problems, 'rules[1].duration.max')).toMatchObject({
      line: lineOf(text, 'max: 1d'),
      message: 'max 1d exceeds settings.hardCap 6h',
    });
  });

  it('keeps min ≤ default: settings.minDuration (5m unless set) or the rule’s own min', () => {
    const text = policyText((p) => {
      p.rules[0].duration = { default: '2m', max: '4h' };
      p.rules[1].duration = { min: '2h', default: '1h', max: '4h' };
    });
    const problems = problemsOf(text);
    expect(problemAt(problems, 'rules[0].duration.default')).toMatchObject({
      line: lineOf(text, 'default: 2m'),
      message: 'default 2m is shorter than settings.minDuration 5m (set duration.min to allow it)',
    });
    expect(problemAt(problems, 'rules[1].duration.min')).toMatchObject({
      line: lineOf(text, 'min: 2h'),
      message: 'min 2h is longer than default 1h',
    });

    const own = parsePolicy(
      policyText((p) => {
        p.settings.minDuration = '10m';
        p.rules[1].duration = { min: '1m', default: '2m', max: '4h' };
      }),
      'stint.yaml',
    );
    expect(own.settings.minDurationSeconds).toBe(600);
    expect(own.rules[0]?.minDurationSeconds).toBe(600);
    expect(own.rules[1]?.minDurationSeconds).toBe(60);
  });

  it('measures max against the default hard cap of 4h when settings say nothing', () => {
    const text = policyText((p) => {
      delete p.settings;
      p.rules[1].duration.max = '5h';
    });
    expect(problemAt(problemsOf(text), 'rules[1].duration.max').message).toBe(
      'max 5h exceeds settings.hardCap 4h',
    );
  });

  it('lets a policy raise the hard cap, and notes the raise where it is written', () => {
    const text = policyText((p) => {
      p.settings.hardCap = '8h';
      p.rules[1].duration = { default: '1h', max: '8h' };
    });
    const raised = parsePolicy(text, 'stint.yaml');
    expect(raised.settings.hardCapSeconds).toBe(8 * 3600);
    expect(raised.rules[1]?.maxDurationSeconds).toBe(8 * 3600);
    expect(raised.notes.filter((n) => n.field.startsWith('settings'))).toEqual([
      expect.objectContaining({
        field: 'settings.hardCap',
        line: lineOf(text, 'hardCap: 8h'),
        message: 'hardCap 8h raises the default cap of 4h: rules may allow access that long',
      }),
    ]);
    // At or below the default there is nothing to say.
    for (const cap of ['4h', '2h']) {
      const at = policyText((p) => {
        p.settings.hardCap = cap;
        p.rules.forEach((r: { duration: { default: string; max: string } }) => {
          r.duration = { default: '1h', max: '2h' };
        });
      });
      expect(parsePolicy(at, 'stint.yaml').notes.filter((n) => n.field.startsWith('settings'))).toEqual([]);
    }
  });

  it('refuses invalid and unanchored ticket patterns', () => {
    const text = policyText((p) => {
      p.rules[0].ticket.patterns = ['^INC-(\\d+', 'CHG-\\d+'];
    });
    const problems = problemsOf(text);
    expect(problemAt(problems, 'rules[0].ticket.patterns[0]')).toMatchObject({
      line: lineOf(text, 'INC-('),
      message: expect.stringMatching(/^invalid regular expression: .*Unterminated group/),
    });
    expect(problemAt(problems, 'rules[0].ticket.patterns[1]').message).toContain('must start with "^"');
  });

  it('refuses a ticket block that can never check anything', () => {
    const text = policyText((p) => {
      p.rules[0].ticket = { required: true, patterns: [] };
      p.rules[1].ticket = { required: false, patterns: ['^INC-\\d+$'] };
    });
    const problems = problemsOf(text);
    expect(problemAt(problems, 'rules[0].ticket.patterns').message).toContain('needs at least one pattern');
    expect(problemAt(problems, 'rules[1].ticket.patterns').message).toBe(
      'patterns are only checked when required is true',
    );
  });

  it('refuses auto combined with other tiers, and a tier listed twice', () => {
    const text = policyText((p) => {
      p.rules[2].approval = ['auto', 'peer'];
      p.rules[1].approval = ['peer', 'peer'];
    });
    const problems = problemsOf(text);
    expect(problemAt(problems, 'rules[2].approval').message).toContain(
      '"auto" approves at once, so it must stand alone',
    );
    expect(problemAt(problems, 'rules[1].approval[1]').message).toBe('tier "peer" is listed twice');
  });

  it('refuses auto approval on a critical resource', () => {
    const text = policyText((p) => {
      p.rules[1].approval = ['auto'];
    });
    expect(problemAt(problemsOf(text), 'rules[1].approval')).toMatchObject({
      line: lineOf(text, 'approval:', lineOf(text, 'id: prod-db-read')),
      message: 'auto approval is refused for critical resource "prod-db"',
    });
  });
});

describe('never half-loads', () => {
  it('leaves the caller with the policy it had when a new one is refused', () => {
    let current = parsePolicy(policyText(), 'stint.yaml');
    const before = current;
    const broken = policyText((p) => {
      p.rules[0].roles = ['ghost'];
    });
    expect(() => {
      current = parsePolicy(broken, 'stint.yaml');
    }).toThrow(PolicyError);
    expect(current).toBe(before);
  });
});

describe('loadPolicyFile', () => {
  it('loads the demo policy', () => {
    const policy = loadPolicyFile(new URL('../../examples/stint.yaml', import.meta.url).pathname);
    expect(policy.settings.deployment).toBe('stint-demo');
    expect(policy.resources.get('prod-db')?.connection).toEqual({ env: 'STINT_DEMO_DB_URL' });
    expect(policy.notes).toEqual([]);
  });

  it('locates problems in the file by its path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-policy-'));
    const path = join(dir, 'stint.yaml');
    writeFileSync(
      path,
      policyText((p) => (p.users[0].manager = 'zed')),
    );
    expect(() => loadPolicyFile(path)).toThrow(`${path}:`);
  });

  it('reports a missing file as a PolicyError', () => {
    const path = join(tmpdir(), 'stint-no-such-policy.yaml');
    try {
      loadPolicyFile(path);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(PolicyError);
      expect((e as PolicyError).problems[0]).toMatchObject({ file: path, line: 1, column: 1 });
      expect((e as PolicyError).message).toContain('ENOENT');
    }
  });
});
