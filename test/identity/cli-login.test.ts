import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerLogin } from '../../src/cli/commands/login.js';
import { createContext } from '../../src/cli/context.js';
import type { Harness } from '../support/harness.js';
import { identityHarness } from './fixtures.js';
import { startIdp, type TestIdp } from './idp.js';

/** `stint login` end to end: the real CLI code, a real provider, Stint listening on a port. */
describe('stint login (loopback redirect)', () => {
  let idp: TestIdp;
  let h: Harness;
  let url: string;
  let dir: string;
  beforeAll(async () => {
    idp = await startIdp();
    h = await identityHarness(idp);
    url = await h.app.listen({ port: 0, host: '127.0.0.1' });
    dir = mkdtempSync(join(tmpdir(), 'stint-login-'));
  });
  afterAll(async () => {
    await h?.close();
    await idp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs in through the browser, keeps a 0600 token file, and the CLI then uses it', async () => {
    const tokenFile = join(dir, 'stint', 'token');
    let out = '';
    let err = '';
    const env = { STINT_URL: url, STINT_TOKEN_FILE: tokenFile };
    const ctx = createContext({
      stdout: {
        write: (s: string) => {
          out += s;
        },
      },
      stderr: {
        write: (s: string) => {
          err += s;
        },
      },
      env,
    });
    const program = new Command().exitOverride().option('--url <url>').option('--json').option('--token <t>');
    idp.nextLogin = { email: 'alice@example.com', amr: ['pwd', 'mfa'] };
    idp.newBrowser();
    registerLogin(program, ctx, {
      // The person's browser: signs in at the provider, which sends it back to the CLI's loopback listener.
      async openBrowser(authUrl) {
        const back = await idp.browse(authUrl);
        expect(back.hostname).toBe('127.0.0.1');
        await (await fetch(back)).text();
      },
    });
    await program.parseAsync(['login'], { from: 'user' });
    expect(err).toContain('visit:');
    expect(out).toContain('alice');

    const token = readFileSync(tokenFile, 'utf8').trim();
    expect(token).toMatch(/^stints_/);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(out + err).not.toContain(token);

    const me = await createContext({
      stdout: { write: () => undefined },
      stderr: { write: () => undefined },
      env,
    })
      .api(new Command())
      .whoami();
    expect(me.userId).toBe('alice');
  });
});

describe('stint login --device', () => {
  let idp: TestIdp;
  let h: Harness;
  let url: string;
  let dir: string;
  beforeAll(async () => {
    idp = await startIdp();
    h = await identityHarness(idp);
    url = await h.app.listen({ port: 0, host: '127.0.0.1' });
    dir = mkdtempSync(join(tmpdir(), 'stint-login-'));
  });
  afterAll(async () => {
    await h?.close();
    await idp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs in with a code confirmed on another device', { timeout: 30_000 }, async () => {
    const tokenFile = join(dir, 'token');
    let confirmed: Promise<void> | null = null;
    idp.nextLogin = { email: 'carol@example.com', amr: ['pwd'] };
    const ctx = createContext({
      stdout: { write: () => undefined },
      stderr: {
        write: (s: string) => {
          const link = /visit (\S+)/.exec(s)?.[1];
          if (link && !confirmed) confirmed = idp.confirmDevice(link);
        },
      },
      env: { STINT_URL: url, STINT_TOKEN_FILE: tokenFile },
    });
    const program = new Command().exitOverride().option('--url <url>').option('--json').option('--token <t>');
    registerLogin(program, ctx, {
      openBrowser: () => {
        throw new Error('the device flow opens no browser here');
      },
    });
    await program.parseAsync(['login', '--device'], { from: 'user' });
    await confirmed;
    const token = readFileSync(tokenFile, 'utf8').trim();
    const who = await h.app.inject({
      method: 'GET',
      url: '/v1/whoami',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(who.json().userId).toBe('carol');
  });
});
