import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '../../src/audit/audit-store.js';
import { createHarness, type Harness } from '../support/harness.js';
import { stepUp, totpCode, wrongTotpCodes } from '../support/step-up.js';
import { STORE_KINDS } from '../support/stores.js';

/**
 * The limit is 5 wrong second-factor codes per user in 5 minutes. An attacker who sends many codes at once
 * must not get more than 5 of them checked: each attempt is counted in the store before its code is checked,
 * so concurrent requests (on one server, or on several sharing a PostgreSQL store) cannot all slip under the
 * limit together. Outside, "checked" is what the answer says: MFA_INVALID means the code was compared and was
 * wrong, MFA_RATE_LIMITED that it was not looked at; inside, every compared wrong code is one `mfa.failed`
 * event with reason `wrong-code`.
 */
describe.each(STORE_KINDS)('second-factor attempts are counted before the code is checked (%s)', (kind) => {
  let h: Harness;
  /** On PostgreSQL a second server on the same store (HA): the burst is spread over both. */
  let second: Harness | null = null;
  const users = ['alice', 'bob', 'carol'];
  const secrets: Record<string, string> = {};
  /** Each server listening: the burst is real HTTP requests, as an outsider sends them. */
  const urls: string[] = [];
  const verify = async (server: number, user: string, code: string) => {
    const from = server === 0 ? h : (second as Harness);
    const res = await fetch(`${urls[server]}/v1/mfa/verify`, {
      method: 'POST',
      headers: { authorization: `Bearer ${from.tokens[user]}`, 'content-type': 'application/json' },
      body: JSON.stringify({ method: 'totp', code }),
    });
    return { status: res.status, code: ((await res.json()) as { error?: { code?: string } }).error?.code };
  };

  beforeAll(async () => {
    h = await createHarness(kind, { stepUp: false });
    for (const user of users) secrets[user] = await stepUp(h.stint, user, h.tokens[user] as string);
    if (kind === 'postgresql') {
      second = await createHarness(kind, {
        beside: h.testStore,
        deployment: h.deployment,
        stepUp: false,
        secrets: h.stint.deps.secrets,
        auditSigner: h.auditSigner,
        checkpointDir: h.checkpointDir,
      });
    }
    for (const server of [h, second]) {
      if (server) urls.push(await server.app.listen({ host: '127.0.0.1', port: 0 }));
    }
  });
  afterAll(async () => {
    await second?.close();
    await h?.close();
  });

  const wrongCodeEvents = async (user: string) =>
    (await listAudit(h.testStore.store.db, { limit: 10_000 })).filter(
      (e) => e.action === 'mfa.failed' && e.actor === user && e.details.reason === 'wrong-code',
    ).length;

  it('a burst of concurrent wrong codes per user has at most 5 checked, and the right code then waits', async () => {
    const servers = second ? [h, second] : [h];
    const perUser = 60;
    const burst: Promise<{ user: string; code: string | undefined }>[] = [];
    for (const user of users) {
      const wrong = await wrongTotpCodes(secrets[user] as string, h.stint.deps.clock(), perUser);
      for (let i = 0; i < perUser; i++) {
        burst.push(verify(i % servers.length, user, wrong[i] as string).then(({ code }) => ({ user, code })));
      }
    }
    const answers = await Promise.all(burst);
    for (const user of users) {
      const mine = answers.filter((a) => a.user === user).map((a) => a.code);
      const checked = mine.filter((c) => c === 'MFA_INVALID').length;
      // Checked or refused unchecked, nothing else (no store starved by the burst). On PostgreSQL a try that keeps
      // finding the count locked by another is refused too, so at most five, not always five, are checked.
      expect({ user, answers: checked + mine.filter((c) => c === 'MFA_RATE_LIMITED').length }).toEqual({
        user,
        answers: perUser,
      });
      expect(checked).toBeGreaterThanOrEqual(1);
      expect(checked).toBeLessThanOrEqual(5);
      expect(await wrongCodeEvents(user)).toBe(checked);

      // Up to the limit one at a time; then even the right code is not looked at, on any server.
      const more = await wrongTotpCodes(secrets[user] as string, h.stint.deps.clock(), 5 - checked);
      for (const code of more) expect((await verify(0, user, code)).code).toBe('MFA_INVALID');
      for (const [i, server] of servers.entries()) {
        const right = await totpCode(secrets[user] as string, server.stint.deps.clock());
        expect(await verify(i, user, right)).toEqual({ status: 429, code: 'MFA_RATE_LIMITED' });
      }
      expect(await wrongCodeEvents(user)).toBe(5);
    }
  });
});
