import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError, formatCliError } from '../../src/cli/cli-error.js';
import { registerMfa } from '../../src/cli/commands/mfa.js';
import { createContext } from '../../src/cli/context.js';
import { type FakeStint, startFakeStint } from '../cli/support.js';
import { createHarness, type Harness } from '../support/harness.js';

const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const URL_ = `otpauth://totp/Stint:bob?secret=${SECRET}&issuer=Stint`;

/** `stint mfa …` as the program will register it, over real HTTP to a fake server (or the real one). */
async function stint(server: Pick<FakeStint, 'url'>, argv: string[], token = 'stint_tok.bob') {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { STINT_URL: server.url, STINT_TOKEN: token },
    now: () => new Date('2026-03-04T10:00:00Z'),
  };
  const program = new Command('stint')
    .option('--url <url>')
    .option('--token <token>')
    .option('--json')
    .exitOverride();
  program.configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  registerMfa(program, createContext(io));
  let code = 0;
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CliError) {
      stderr += formatCliError(e);
      code = e.exitCode;
    } else code = 99;
  }
  return { code, stdout, stderr };
}

describe('stint mfa', () => {
  let server: FakeStint;
  beforeAll(async () => {
    server = await startFakeStint({
      'POST /v1/mfa/totp/enroll': { status: 201, body: { secret: SECRET, otpauthUrl: URL_ } },
      'POST /v1/mfa/totp/confirm': {
        body: {
          totp: 'confirmed',
          webauthnCredentials: 0,
          verifiedAt: null,
          validUntil: null,
          maxAgeSeconds: 900,
        },
      },
      'POST /v1/mfa/verify': (r) =>
        (r.body as { code: string }).code === '123456'
          ? {
              body: {
                method: 'totp',
                verifiedAt: '2026-03-04T10:00:00.000Z',
                validUntil: '2026-03-04T10:15:00.000Z',
              },
            }
          : { status: 400, body: { error: { code: 'MFA_REPLAYED', message: 'this code was already used' } } },
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('enroll totp prints the otpauth URL and the secret once, and says how to confirm', async () => {
    const res = await stint(server, ['mfa', 'enroll', 'totp']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(URL_);
    expect(res.stdout).toContain(SECRET);
    expect(res.stderr).toContain('stint mfa enroll totp --code');
    const sent = server.received.at(-1);
    expect([sent?.method, sent?.path, sent?.headers.authorization]).toEqual([
      'POST',
      '/v1/mfa/totp/enroll',
      'Bearer stint_tok.bob',
    ]);
  });

  it('enroll totp --code confirms the pending enrollment', async () => {
    const res = await stint(server, ['mfa', 'enroll', 'totp', '--code', '654 321']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('TOTP confirmed');
    expect(server.received.at(-1)?.body).toEqual({ code: '654321' });
  });

  it('verify --code steps up and says until when it counts', async () => {
    const res = await stint(server, ['mfa', 'verify', '--code', '123456']);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^verified: approvals needing a second factor are allowed until /);
    expect(server.received.at(-1)?.body).toEqual({ method: 'totp', code: '123456' });
  });

  it('shows the server error code, and refuses a malformed code before sending it', async () => {
    const replayed = await stint(server, ['mfa', 'verify', '--code', '111111']);
    expect(replayed.code).toBe(1);
    expect(replayed.stderr).toContain('MFA_REPLAYED');
    const before = server.received.length;
    const bad = await stint(server, ['mfa', 'verify', '--code', '12ab']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('not a 6-digit code');
    expect(server.received.length).toBe(before);
  });
});

describe('stint mfa reset, against the real server', () => {
  let h: Harness;
  let url: string;
  beforeAll(async () => {
    h = await createHarness('sqlite', { start: false });
    url = await h.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('an admin asks, security confirms with the id it printed, and the user has no factor left', async () => {
    const asked = await stint(
      { url },
      ['--json', 'mfa', 'reset', 'carol', '--reason', 'lost phone'],
      h.tokens.root,
    );
    expect(asked.code, asked.stderr).toBe(0);
    const id = JSON.parse(asked.stdout).id as string;
    expect(id).toMatch(/^mfr_/);

    const self = await stint({ url }, ['mfa', 'reset-confirm', id], h.tokens.root);
    expect([self.code, self.stderr]).toEqual([expect.any(Number), expect.stringContaining('FORBIDDEN')]);
    expect(self.code).not.toBe(0);

    const done = await stint({ url }, ['mfa', 'reset-confirm', id], h.tokens.sam);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain("carol's second factors are removed");
    expect((await h.as('carol').get('/v1/mfa')).body.totp).toBe('none');
  });
});
