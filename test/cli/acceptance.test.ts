import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateNoteKey } from '../../src/audit/log/signed-note.js';
import { createTokenStore } from '../../src/auth/token-store.js';
import { runCli } from '../../src/cli/program.js';
import { createSessionStore } from '../../src/identity/session-store.js';
import { migrate, openDatabase } from '../../src/store/database.js';
import { targetEnv } from '../support/harness.js';
import { waitFor } from '../support/pg-client.js';
import { type ServerProcess, startServerProcess } from '../support/server-process.js';
import { totpCode } from '../support/step-up.js';
import { TEST_POLICY } from '../support/test-policy.js';

const run = promisify(execFile);

/** Runs real psql with a connection string, as the requester would. */
async function psql(url: string, query: string): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout } = await run('psql', [url, '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', query], {
      env: { ...process.env, PGCONNECT_TIMEOUT: '3' },
    });
    return { ok: true, out: stdout.trim() };
  } catch (e) {
    return { ok: false, out: String((e as { stderr?: string }).stderr ?? e) };
  }
}

/** The acceptance story of the core issue, typed at the `stint` CLI against a real server process. */
describe('acceptance: the stint CLI against a running server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-accept-'));
  const dbUrl = `sqlite:${join(dir, 'stint.db')}`;
  const policyPath = join(dir, 'stint.yaml');
  const tokens: Record<string, string> = {};
  let server: ServerProcess;

  async function stint(user: string, ...argv: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await runCli(argv, {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      env: { STINT_URL: server.url, STINT_TOKEN: tokens[user] },
    });
    return { code, stdout, stderr };
  }

  beforeAll(async () => {
    writeFileSync(
      policyPath,
      TEST_POLICY.replace('deployment: stint-test', `deployment: accept-${randomBytes(4).toString('hex')}`),
    );
    const store = openDatabase(dbUrl);
    await migrate(store);
    const tokenStore = createTokenStore(store.db);
    for (const user of ['alice', 'carol', 'bob', 'erin']) {
      tokens[user] = (await tokenStore.create(user, 'test', new Date())).token;
    }
    // What `stint login` leaves in carol's token file: a session from a sign-in at the provider just now.
    const signedIn = await createSessionStore(store.db).create({
      userId: 'carol',
      source: 'cli',
      now: new Date(),
      ttlMs: 3_600_000,
      mfaAt: null,
      authAt: new Date(),
    });
    tokens['carol-session'] = signedIn.token;
    await store.close();
    server = await startServerProcess(
      ['--policy', policyPath, '--db', dbUrl, '--port', '0', '--data-dir', dir],
      {
        ...targetEnv(),
        STINT_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        STINT_AUDIT_SIGNING_KEY: generateNoteKey('stint-test').skey,
        STINT_LOG_LEVEL: 'warn',
      },
    );
  });
  afterAll(async () => {
    await server?.kill9();
    rmSync(dir, { recursive: true, force: true });
  });

  it('request → approve → psql works with the role’s privileges → revoke → psql refused → audit shows it all', async () => {
    const asked = await stint(
      'alice',
      'request',
      'prod-db',
      '--role',
      'admin',
      '--reason',
      'INC-4821',
      '--for',
      '2h',
    );
    expect(asked.code, asked.stderr).toBe(0);
    expect(asked.stdout).toMatch(/needs: manager approval — carol/);
    const id = /req_[0-9a-f]{16}/.exec(asked.stdout)?.[0] as string;
    expect(id).toBeDefined();

    const listed = await stint('carol', 'requests', '--to-approve');
    expect(listed.stdout).toContain(id);

    const selfApproval = await stint('alice', 'approve', id);
    expect(selfApproval.code).not.toBe(0);
    expect(selfApproval.stderr).toContain('SELF_APPROVAL');

    // prod-db is critical: approving it needs a fresh second factor.
    const withoutMfa = await stint('carol', 'approve', id);
    expect(withoutMfa.code).not.toBe(0);
    expect(withoutMfa.stderr).toContain('MFA_REQUIRED');
    // Second factors are enrolled in a signed-in session, never with an API token.
    const withToken = await stint('carol', 'mfa', 'enroll', 'totp');
    expect(withToken.code).not.toBe(0);
    expect(withToken.stderr).toContain('SESSION_REQUIRED');
    const enrolled = await stint('carol-session', '--json', 'mfa', 'enroll', 'totp');
    expect(enrolled.code, enrolled.stderr).toBe(0);
    const { secret } = JSON.parse(enrolled.stdout) as { secret: string };
    // The server runs in its own process on the real clock: this step's code confirms and the next one steps up,
    // both inside the one-step tolerance whether or not a 30-s boundary passes meanwhile (support/step-up.ts).
    const now = new Date();
    expect(
      (await stint('carol-session', 'mfa', 'enroll', 'totp', '--code', await totpCode(secret, now))).code,
    ).toBe(0);
    expect(
      (await stint('carol-session', 'mfa', 'verify', '--code', await totpCode(secret, now, 1))).code,
    ).toBe(0);

    const approved = await stint('carol-session', 'approve', id, '--comment', 'ok for INC-4821');
    expect(approved.code, approved.stderr).toBe(0);

    const creds = await stint('alice', 'credentials', id);
    expect(creds.code, creds.stderr).toBe(0);
    const url = /postgres(ql)?:\/\/\S+/.exec(creds.stdout)?.[0] as string;
    expect(url).toBeDefined();
    const again = await stint('alice', 'credentials', id);
    expect(again.stderr).toContain('CREDENTIAL_ALREADY_SHOWN');

    expect(await psql(url, 'SELECT owner FROM accounts WHERE id = 1')).toEqual({ ok: true, out: 'alice' });
    expect((await psql(url, "UPDATE accounts SET balance = balance WHERE owner = 'alice'")).ok).toBe(true);
    const createRole = await psql(url, 'CREATE ROLE escalate LOGIN');
    expect(createRole.ok).toBe(false);
    expect(createRole.out).toMatch(/permission denied/);

    const revoked = await stint('alice', 'revoke', id, '--comment', 'finished');
    expect(revoked.code, revoked.stderr).toBe(0);
    const refused = await psql(url, 'SELECT 1');
    expect(refused.ok).toBe(false);
    expect(refused.out).toMatch(/password authentication failed/);

    const shown = await stint('alice', '--json', 'show', id);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      state: 'revoked',
      revocation: 'done',
      endedBy: 'alice',
    });

    const audit = await waitFor(async () => {
      const a = await stint('erin', '--json', 'audit', 'list', '--request', id);
      const events = JSON.parse(a.stdout).events as { action: string; actor: string }[];
      return events.some((e) => e.action === 'grant.revocation_completed') ? events : null;
    });
    expect(audit.map((e) => `${e.action}:${e.actor}`)).toEqual([
      'request.created:alice',
      'request.approved:carol',
      'grant.activated:stint',
      'credential.shown:alice',
      'grant.revoked:alice',
      'grant.revocation_completed:stint',
    ]);
    const table = await stint('erin', 'audit', 'list', '--request', id);
    expect(table.stdout).toContain('INC-4821');
  });

  it('bad input at the CLI: a clear error and a non-zero exit', async () => {
    const badDuration = await stint(
      'alice',
      'request',
      'prod-db',
      '--role',
      'admin',
      '--reason',
      'INC-1',
      '--for',
      '2 hours',
    );
    expect(badDuration.code).not.toBe(0);
    expect(badDuration.stderr).toContain('INVALID_DURATION');
    const tooLong = await stint(
      'alice',
      'request',
      'prod-db',
      '--role',
      'admin',
      '--reason',
      'INC-1',
      '--for',
      '5h',
    );
    expect(tooLong.stderr).toContain('DURATION_TOO_LONG');
    const noTicket = await stint('alice', 'request', 'prod-db', '--role', 'admin', '--reason', 'because');
    expect(noTicket.stderr).toContain('TICKET_MALFORMED');
    const mine = await stint('alice', '--json', 'requests');
    expect(JSON.parse(mine.stdout).requests.every((r: { reason: string }) => r.reason !== 'because')).toBe(
      true,
    );
  });
});
