import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startRedis } from '../support/redis-server.js';
import { run } from './support.js';

const cluster = () => inject('pgCluster');

/** Owned by this test (not the shared fixture) so the counts below stay true. */
const POLICY = `
version: 1
settings: { deployment: cli-test, hardCap: 4h, pendingTimeout: 24h }
users:
  - { id: alice, email: alice@example.com, name: Alice, manager: carol, teams: [payments] }
  - { id: bob, email: bob@example.com, name: Bob, manager: carol, teams: [payments] }
  - { id: carol, email: carol@example.com, name: Carol, teams: [leads] }
  - { id: sam, email: sam@example.com, name: Sam, teams: [security], security: true }
resources:
  - id: prod-db
    kind: postgres
    description: Production database
    sensitivity: critical
    connection: { env: STINT_CLI_TEST_DB_URL }
    roles:
      admin: { description: Full access, grants: [app_admin] }
      read: { description: Read only, grants: [app_read] }
rules:
  - id: prod-db-admin
    resources: [prod-db]
    roles: [admin]
    who: { teams: [payments] }
    duration: { default: 1h, max: 4h }
    ticket: { required: true, patterns: ['^INC-\\d+$'] }
    approval: [manager]
  - id: prod-db-read
    resources: [prod-db]
    roles: [read]
    who: { teams: [payments] }
    duration: { default: 1h, max: 4h }
    ticket: { required: false, patterns: [] }
    approval: [peer]
`;

const dir = mkdtempSync(join(tmpdir(), 'stint-cli-policy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('stint policy check', () => {
  it('summarises a valid policy', async () => {
    const path = file('valid.yaml', POLICY);
    const r = await run(['policy', 'check', path]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^policy OK: 4 users, 1 resources, 2 rules \(version \S+\)\n$/);
  });

  it('notes a hard cap raised above the default 4h, and still passes', async () => {
    const raised = POLICY.replace('hardCap: 4h', 'hardCap: 12h');
    expect(raised).not.toBe(POLICY);
    const path = file('raised.yaml', raised);
    const r = await run(['policy', 'check', path]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^policy OK: 4 users/);
    const column = (raised.split('\n')[2] as string).indexOf('12h') + 1;
    expect(r.stderr).toBe(
      `note: ${path}:3:${column}: settings.hardCap: hardCap 12h raises the default cap of 4h: rules may allow access that long\n`,
    );
    const json = await run(['--json', 'policy', 'check', path]);
    expect(JSON.parse(json.stdout).notes).toEqual([
      expect.objectContaining({
        field: 'settings.hardCap',
        line: 3,
        message: expect.stringContaining('12h'),
      }),
    ]);
  });

  it('--json gives the same counts', async () => {
    const path = file('valid-json.yaml', POLICY);
    const r = await run(['--json', 'policy', 'check', path]);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, users: 4, resources: 1, rules: 2 });
  });

  it('lists each problem as file:line:column: field: message and exits 1', async () => {
    const broken = POLICY.replace('approval: [manager]\n', 'approval: [nobody-knows]\n');
    expect(broken).not.toBe(POLICY);
    const path = file('broken.yaml', broken);
    const r = await run(['policy', 'check', path]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const problemLines = r.stderr.split('\n').filter((l) => l.startsWith(`${path}:`));
    expect(problemLines.length).toBeGreaterThan(0);
    // The broken line is the approval of the first rule.
    const line = broken.split('\n').findIndex((l) => l.includes('nobody-knows')) + 1;
    expect(problemLines[0]).toMatch(
      new RegExp(`^${escapeRegExp(path)}:${line}:\\d+: rules\\[0\\]\\.approval`),
    );
    expect(r.stderr).toMatch(/^error \[POLICY_INVALID\]: \d+ problems? in .*broken\.yaml$/m);
  });

  it('reports a YAML syntax error with its position', async () => {
    const path = file('syntax.yaml', 'version: 1\nusers: [\n');
    const r = await run(['policy', 'check', path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^${escapeRegExp(path)}:\\d+:\\d+: `, 'm'));
  });

  it('--json lists the problems for scripts', async () => {
    const path = file(
      'broken-json.yaml',
      POLICY.replace('approval: [manager]\n', 'approval: [nobody-knows]\n'),
    );
    const r = await run(['--json', 'policy', 'check', path]);
    expect(r.code).toBe(1);
    const body = JSON.parse(r.stdout) as { ok: boolean; problems: { file: string; field: string }[] };
    expect(body.ok).toBe(false);
    expect(body.problems[0]?.file).toBe(path);
    expect(body.problems[0]?.field).toMatch(/^rules\[0\]\.approval/);
  });

  it('reports a missing file without a stack trace', async () => {
    const r = await run(['policy', 'check', join(dir, 'absent.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/absent\.yaml.*ENOENT/);
    expect(r.stderr).toMatch(/^error \[[A-Z_]+\]: .*absent\.yaml$/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('stint policy test', () => {
  const policyPath = () => file('for-tests.yaml', POLICY);

  it('marks each case and exits 0 when all pass', async () => {
    const tests = file(
      'pass.yaml',
      `tests:
  - name: alice needs her manager for prod-db admin
    request: { user: alice, resource: prod-db, role: admin, reason: INC-1, for: 2h }
    expect: { approval: [manager], approvers: [carol], rule: prod-db-admin, duration: 2h }
  - name: sam is not eligible
    request: { user: sam, resource: prod-db, role: admin, reason: INC-1 }
    expect: { error: NOT_ELIGIBLE }
`,
    );
    const r = await run(['policy', 'test', tests, '--policy', policyPath()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('✓ alice needs her manager for prod-db admin\n✓ sam is not eligible\n2 passed\n');
  });

  it('shows why a case failed, where it is, and exits 1', async () => {
    const tests = file(
      'fail.yaml',
      `tests:
  - name: read is auto
    request: { user: alice, resource: prod-db, role: read, reason: looking }
    expect: { approval: [auto] }
  - name: admin needs the manager
    request: { user: alice, resource: prod-db, role: admin, reason: INC-7 }
    expect: { approval: [manager] }
`,
    );
    const r = await run(['policy', 'test', tests, '--policy', policyPath()]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^✗ read is auto \(.*fail\.yaml:2\): expected approval \[auto\], got \[peer\]$/m,
    );
    expect(r.stdout).toMatch(/^✓ admin needs the manager$/m);
    expect(r.stdout).not.toContain('passed');
    expect(r.stderr).toBe('error [TESTS_FAILED]: 1 of 2 policy tests failed\n');
  });

  it('reports an invalid test file as located problems', async () => {
    const tests = file(
      'invalid.yaml',
      'tests:\n  - name: x\n    request: { user: alice }\n    expect: {}\n    extra: 1\n',
    );
    const r = await run(['policy', 'test', tests, '--policy', policyPath()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^${escapeRegExp(tests)}:\\d+:\\d+: tests\\[0\\]`, 'm'));
    expect(r.stderr).toMatch(/^error \[POLICY_INVALID\]: \d+ problems? in .*invalid\.yaml$/m);
  });

  it('fails on a test file without cases', async () => {
    const r = await run(['policy', 'test', file('empty.yaml', 'tests: []\n'), '--policy', policyPath()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error \[TESTS_FAILED\]: no test cases in .*empty\.yaml$/m);
  });

  it('takes the policy from STINT_POLICY', async () => {
    const tests = file(
      'env.yaml',
      'tests:\n  - name: ok\n    request: { user: alice, resource: prod-db, role: read, reason: looking }\n    expect: {}\n',
    );
    const r = await run(['policy', 'test', tests], { env: { STINT_POLICY: policyPath() } });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('✓ ok\n1 passed\n');
  });

  it('needs --policy (or STINT_POLICY)', async () => {
    const r = await run(['policy', 'test', file('t.yaml', 'tests: []\n')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--policy');
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('stint policy check --live', () => {
  const cluster = inject('pgCluster');
  const wrong = (() => {
    const u = new URL(cluster.stintAdminUrl);
    u.password = 'not-the-admin-password';
    return u.toString();
  })();

  it("reaches the target as Stint's admin and says what answered", async () => {
    const path = file('live-ok.yaml', POLICY);
    const r = await run(['policy', 'check', '--live', path], {
      env: { STINT_CLI_TEST_DB_URL: cluster.stintAdminUrl },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✓ prod-db \(postgres\): PostgreSQL \d+/);
  });

  it('a target that refuses the admin credential is a clear PROVIDER_ERROR (auth), without the password', async () => {
    const path = file('live-refused.yaml', POLICY);
    const r = await run(['policy', 'check', '--live', '--json', path], {
      env: { STINT_CLI_TEST_DB_URL: wrong },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/PROVIDER_ERROR/);
    const out = JSON.parse(r.stdout);
    expect(out.ok).toBe(false);
    expect(out.targets).toEqual([
      expect.objectContaining({ resource: 'prod-db', ok: false, code: 'PROVIDER_ERROR', class: 'auth' }),
    ]);
    expect(r.stdout + r.stderr).not.toContain('not-the-admin-password');
  });

  it('a connection that cannot be read is CONFIG_INVALID for that resource', async () => {
    const path = file('live-unset.yaml', POLICY);
    const r = await run(['policy', 'check', '--live', '--json', path], { env: {} });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).targets[0]).toMatchObject({
      resource: 'prod-db',
      ok: false,
      code: 'CONFIG_INVALID',
    });
  });
});

describe('stint policy check --live on every kind that reaches a server here', () => {
  it('a Redis resource is reached as its admin (the owner the check makes is one a kind accepts)', async () => {
    const redis = await startRedis();
    try {
      const path = file(
        'live-redis.yaml',
        POLICY.replace(
          'rules:',
          `  - id: cache
    kind: redis
    description: Cache
    sensitivity: routine
    connection: { env: STINT_CLI_TEST_REDIS_URL }
    roles:
      read: { description: Read only, grants: ['+@read', '~app:*'] }
rules:`,
        ),
      );
      const r = await run(['policy', 'check', '--live', '--json', path], {
        env: { STINT_CLI_TEST_DB_URL: cluster().stintAdminUrl, STINT_CLI_TEST_REDIS_URL: redis.adminUrl },
      });
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout).targets).toEqual([
        expect.objectContaining({ resource: 'prod-db', ok: true }),
        expect.objectContaining({ resource: 'cache', kind: 'redis', ok: true }),
      ]);
    } finally {
      await redis.stop();
    }
  });
});
