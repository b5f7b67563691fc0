import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordingStore } from '../../src/recording/recording-store.js';
import { recordingDb } from '../../src/recording/recording-tables.js';
import { waitFor } from '../support/pg-client.js';
import { askpassScript, type ProxyFixture, spawnSsh, startFixture, tokenLogin } from './fixture.js';

/**
 * Sessions end when their grant does, on whichever server the grant ends: here the revoke is made on one server
 * (A, no proxy) and the session runs through the proxy of another (B), both on one PostgreSQL store, as an HA
 * deployment runs. The lag from the revoke's answer to the user's ssh exiting is measured and printed.
 */
let a: ProxyFixture;
let b: ProxyFixture;
beforeAll(async () => {
  a = await startFixture({ store: 'postgresql', withProxy: false });
  b = await startFixture({ store: 'postgresql', beside: a.h, sshd: a.sshd, pollMs: 100 });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
};

describe('a session ends with its grant', () => {
  it('ends at a revoke made on another server; the lag is measured', async () => {
    const lags: number[] = [];
    for (let i = 0; i < 5; i++) {
      const g = await b.grant();
      const ssh = spawnSsh(g.login, ['echo', 'started;', 'sleep', '60']);
      await waitFor(async () => ssh.output().includes('started'));
      const revoked = await a.h.as('sam').post(`/v1/requests/${g.requestId}/revoke`, {});
      const at = performance.now();
      expect(revoked.status).toBe(200);
      const exit = await ssh.exited;
      lags.push(exit.at - at);
      expect(exit.code).toBe(255);
      expect(ssh.output()).toContain('[stint] session ended: grant revoked');
      const ended = await waitFor(async () =>
        (await b.events(g.requestId)).find((e) => e.action === 'session.ended'),
      );
      expect(ended.details.reason).toBe('grant revoked');
      const [session] = await recordingStore.listSessions(recordingDb(b.h.stint.deps.store.db), {
        requestId: g.requestId,
        limit: 1,
      });
      expect(session?.end_reason).toBe('grant revoked');
    }
    console.log(
      `session-end lag at a revoke on another server (poll 100 ms), ${lags.length} sessions: ` +
        `p50 ${percentile(lags, 50).toFixed(0)} ms, max ${Math.max(...lags).toFixed(0)} ms`,
    );
    expect(Math.max(...lags)).toBeLessThan(5_000);
  });

  it('a proxy token shown by one server logs in through another server’s proxy, and is refused there after a revoke on the first', async () => {
    const askpass = askpassScript(b.dir);
    // Taken on A (which runs no proxy): the token comes with the take all the same.
    const g = await a.grant();
    const token = g.secret.proxyToken ?? '';
    expect(token).toMatch(/^stint-ssh\./);
    const r = await tokenLogin(b, askpass, token, ['id', '-un']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(b.sshd.account);
    await a.h.as('sam').post(`/v1/requests/${g.requestId}/revoke`, {});
    expect((await tokenLogin(b, askpass, token, ['true'])).code).toBe(255);
    const refused = await waitFor(async () =>
      (await b.events(g.requestId)).find((e) => e.action === 'session.refused'),
    );
    expect(refused.details.login).toBe('token');
  });

  it('ends at the end of the window, without anyone revoking', async () => {
    const g = await b.grant({ duration: '3s' });
    const request = await b.h.as('alice').get(`/v1/requests/${g.requestId}`);
    const expiresAt = Date.parse(request.body.expiresAt);
    const ssh = spawnSsh(g.login, ['echo', 'started;', 'sleep', '60']);
    await waitFor(async () => ssh.output().includes('started'));
    const exit = await ssh.exited;
    const lag = Date.now() - expiresAt;
    console.log(`session-end lag at the window's end: ${lag} ms`);
    expect(exit.code).toBe(255);
    expect(ssh.output()).toMatch(/\[stint\] session ended: grant (window ended|expired)/);
    // Certificates end on a whole second (OpenSSH's format), the session with them: up to a second early.
    expect(lag).toBeGreaterThan(-1_000);
    expect(lag).toBeLessThan(5_000);
  });
});
