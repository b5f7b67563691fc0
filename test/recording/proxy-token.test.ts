import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '../../src/audit/audit-store.js';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { createSshProxyTokens } from '../../src/recording/ssh-proxy/proxy-token.js';
import { waitFor } from '../support/pg-client.js';
import { askpassScript, type ProxyFixture, startFixture, tokenLogin } from './fixture.js';

/**
 * Logging in to the proxy with a grant's proxy token instead of its certificate, with the real OpenSSH client: the
 * token is typed by SSH_ASKPASS (forced), as a password or as the answer to the proxy's keyboard-interactive prompt.
 */
let f: ProxyFixture;
let askpass: string;
beforeAll(async () => {
  f = await startFixture({ storage: 'local' });
  askpass = askpassScript(f.dir);
});
afterAll(async () => {
  await f?.close();
});

const tokenSsh = (token: string, command: string[], method?: 'password' | 'keyboard-interactive') =>
  tokenLogin(f, askpass, token, command, method);

const actions = async (requestId: string) =>
  (await listAudit(f.h.stint.deps.store.db, { requestId, limit: 10_000 })).map((e) => ({
    action: e.action,
    details: e.details,
  }));

/** Logins the host's sshd accepted so far: a refused token must add none. */
const hostLogins = () => f.sshd.log().split('Accepted publickey').length - 1;

describe('the SSH proxy token', () => {
  it('is shown with the take, logs in as a password or by keyboard-interactive while the grant lives, and is audited as such', async () => {
    const g = await f.grant();
    const token = g.secret.proxyToken ?? '';
    expect(token).toMatch(new RegExp(`^stint-ssh\\.${g.requestId}\\.[A-Za-z0-9_-]{43}$`));

    const r = await tokenSsh(token, ['id', '-un']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(f.sshd.account);
    const kbd = await tokenSsh(token, ['echo', 'typed'], 'keyboard-interactive');
    expect(kbd.code).toBe(0);
    expect(kbd.stdout.trim()).toBe('typed');

    const events = await waitFor(async () => {
      const all = await actions(g.requestId);
      return all.filter((e) => e.action === 'session.ended').length === 2 ? all : null;
    });
    const started = events.filter((e) => e.action === 'session.started');
    expect(started.map((e) => e.details.login)).toEqual(['token', 'token']);
    expect(started[0]?.details.certificateSerial).toBeUndefined();
    // The proxy's own certificate for the host is signed as for a certificate login.
    expect(events.filter((e) => e.action === 'session.host_connected')).toHaveLength(2);
    // The token is in no audit event, the take's included.
    expect(JSON.stringify(events)).not.toContain(token.split('.').at(-1));
  });

  it('refuses a wrong token, and nothing reaches the host', async () => {
    const g = await f.grant();
    const token = g.secret.proxyToken ?? '';
    const mac = token.split('.').at(-1) ?? '';
    const wrong = `${token.slice(0, -mac.length)}${randomBytes(32).toString('base64url').slice(0, 43)}`;
    const before = hostLogins();
    const r = await tokenSsh(wrong, ['id']);
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/Permission denied/);
    // Not a token at all (a password someone guessed): refused the same way.
    expect((await tokenSsh('hunter2', ['id'])).code).toBe(255);
    expect(hostLogins()).toBe(before);

    const refused = await waitFor(async () =>
      (await actions(g.requestId)).find((e) => e.action === 'session.refused'),
    );
    expect(refused.details).toMatchObject({
      login: 'token',
      reason: 'the proxy token does not match the grant',
    });
    expect(JSON.stringify(refused)).not.toContain(wrong.split('.').at(-1));
    expect((await actions(g.requestId)).some((e) => e.action === 'session.started')).toBe(false);
  });

  it('is useless against another grant: its mac is for its own request only', async () => {
    const a = await f.grant();
    const b = await f.grant();
    const tokenA = a.secret.proxyToken ?? '';
    const macA = tokenA.split('.').at(-1) ?? '';
    const before = hostLogins();
    expect((await tokenSsh(`stint-ssh.${b.requestId}.${macA}`, ['id'])).code).toBe(255);
    expect(hostLogins()).toBe(before);
    expect((await actions(b.requestId)).some((e) => e.action === 'session.started')).toBe(false);
    // A's own token still opens A's grant, and only A's.
    expect((await tokenSsh(tokenA, ['true'])).code).toBe(0);
    expect((await actions(a.requestId)).some((e) => e.action === 'session.started')).toBe(true);
  });

  it('is refused after the grant is revoked, and the session it opened ends with the grant', async () => {
    const g = await f.grant();
    const token = g.secret.proxyToken ?? '';
    expect((await tokenSsh(token, ['true'])).code).toBe(0);
    // A session opened by token, still running at the revoke, is ended by it.
    const ofGrant = () =>
      f.rec
        .proxy()
        ?.sessions()
        .filter((s) => s.grant.request.id === g.requestId) ?? [];
    await waitFor(async () => ofGrant().length === 0);
    const live = tokenSsh(token, ['sleep', '30']);
    // Its command running on the host (the channel open), not merely logged in.
    await waitFor(async () => ofGrant()[0]?.channels.size === 1);
    const revoked = await f.h.as('sam').post(`/v1/requests/${g.requestId}/revoke`, { comment: 'done' });
    expect(revoked.status).toBe(200);
    const ended = await live;
    expect(ended.code).not.toBe(0);
    expect(ended.stderr + ended.stdout).toMatch(/session ended: grant revoked/);
    const endedEvent = await waitFor(async () =>
      (await actions(g.requestId)).find(
        (e) => e.action === 'session.ended' && e.details.reason !== 'client disconnected',
      ),
    );
    expect(endedEvent.details.reason).toBe('grant revoked');

    const before = hostLogins();
    const after = await tokenSsh(token, ['true']);
    expect(after.code).toBe(255);
    expect(hostLogins()).toBe(before);
    const refused = await waitFor(async () =>
      (await actions(g.requestId)).find((e) => e.action === 'session.refused'),
    );
    expect(refused.details.reason).toMatch(/the grant is revoked|the grant is not live/);
  });

  it('is bound to its grant, requester and take (unit: the mac covers each)', () => {
    const secrets = createSecretBox(randomBytes(32));
    const tokens = createSshProxyTokens(secrets);
    const grant = {
      storeId: 'st_1',
      requestId: 'req_0123456789abcdef',
      requester: 'alice',
      principal: 'stint-req_0123456789abcdef',
      shownAt: 1_700_000_000_000,
    };
    const token = tokens.issue(grant);
    expect(tokens.matches(token, grant)).toBe(true);
    expect(tokens.requestOf(token)).toBe(grant.requestId);
    for (const other of [
      { ...grant, requester: 'mallory' },
      { ...grant, storeId: 'st_2' },
      { ...grant, shownAt: grant.shownAt + 1 },
      { ...grant, principal: 'stint-other' },
    ]) {
      expect(tokens.matches(token, other)).toBe(false);
    }
    // Another encryption key (another deployment) derives another key.
    expect(createSshProxyTokens(createSecretBox(randomBytes(32))).matches(token, grant)).toBe(false);
    // The same MAC spelt otherwise (base64url's last character carries two unused bits) is not the token shown.
    const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const respelt = `${token.slice(0, -1)}${B64[B64.indexOf(token.at(-1) as string) ^ 1]}`;
    expect(Buffer.from(respelt.split('.').at(-1) as string, 'base64url')).toEqual(
      Buffer.from(token.split('.').at(-1) as string, 'base64url'),
    );
    expect(tokens.matches(respelt, grant)).toBe(false);
    expect(tokens.requestOf('stint-ssh.req_1.short')).toBeNull();
    expect(tokens.requestOf(`${token}.extra`)).toBeNull();
  });
});
