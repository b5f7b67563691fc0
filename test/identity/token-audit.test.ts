import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEventBody } from '../../src/audit/audit-event.js';
import { createApiToken, revokeApiToken } from '../../src/auth/token-admin.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';
import { TEST_POLICY } from '../support/test-policy.js';
import { freshIp } from './fixtures.js';

/**
 * API tokens left no trace: `POST /v1/tokens`, `DELETE /v1/tokens/:id` and `stint admin token create|revoke`
 * changed who can act without one audit event. Each change is now in the trail: the API's in the transaction that
 * changes the token, the host command's (which holds no audit key) written by the server before the token's first
 * use acts, or by its sweep when nobody uses the token; never the token's secret.
 */
describe.each(STORE_KINDS)('API tokens in the audit trail (%s)', (kind) => {
  let h: Harness;
  const policyPath = join(mkdtempSync(join(tmpdir(), 'stint-policy-')), 'stint.yaml');
  writeFileSync(policyPath, TEST_POLICY);

  beforeAll(async () => {
    // Not started: no sweep runs unless a test runs it, so what announced a token is known.
    h = await createHarness(kind, { start: false, stepUp: false });
  });
  afterAll(async () => {
    await h?.close();
  });

  const call = async (bearer: string, method: 'GET' | 'POST' | 'DELETE', url: string, body?: object) => {
    const res = await h.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${bearer}`, 'user-agent': 'token-audit-test' },
      remoteAddress: freshIp(),
      ...(body === undefined ? {} : { payload: body }),
    });
    return { status: res.statusCode, body: res.body ? res.json() : null };
  };

  const bodies = async (): Promise<AuditEventBody[]> =>
    (await h.testStore.store.db.selectFrom('audit_events').select('body').orderBy('seq').execute()).map(
      (r) => JSON.parse(r.body ?? 'null') as AuditEventBody,
    );
  const about = async (id: string) => (await bodies()).filter((e) => e.details.id === id);
  const secretOf = (token: string) => token.split('.')[1] as string;

  /** The event schema docs/audit.md gives SIEMs and notifiers. */
  const validate = (() => {
    const doc = readFileSync(new URL('../../docs/audit.md', import.meta.url), 'utf8');
    const ajv = new Ajv2020({ allErrors: true, validateFormats: false });
    const v = ajv.compile(JSON.parse(/```json\n(\{\n {2}"\$schema"[\s\S]*?)```/.exec(doc)?.[1] ?? 'null'));
    return (e: AuditEventBody) => expect(v(e), `${e.action}: ${ajv.errorsText(v.errors)}`).toBe(true);
  })();

  const hostToken = (userId: string, name = 'ops') =>
    createApiToken({ userId, name, databaseUrl: h.testStore.url, policyPath });

  it('a token made and revoked through the API is in the trail (who, whose, scopes, expiry), never its secret', async () => {
    const made = await call(h.tokens.alice as string, 'POST', '/v1/tokens', {
      name: 'ci',
      scopes: ['requests:read'],
      expiresInDays: 7,
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const { id, token, expiresAt } = made.body as { id: string; token: string; expiresAt: string };

    const own = await call(h.tokens.alice as string, 'DELETE', `/v1/tokens/${id}`);
    expect(own.status).toBe(200);
    // Revoking again changes nothing, and writes nothing.
    expect((await call(h.tokens.alice as string, 'DELETE', `/v1/tokens/${id}`)).status).toBe(200);

    const trail = await about(id);
    expect(trail.map((e) => [e.action, e.actor])).toEqual([
      ['token.created', 'alice'],
      ['token.revoked', 'alice'],
    ]);
    const [created, revoked] = trail;
    expect(created).toMatchObject({
      target: { principal: 'alice' },
      source: { userAgent: 'token-audit-test' },
      details: { id, name: 'ci', user: 'alice', scopes: ['requests:read'], expiresAt },
    });
    // Her own token: nobody else to tell.
    expect(revoked?.details).toMatchObject({ id, user: 'alice', revokedAt: expect.any(String) });
    expect(revoked?.details).not.toHaveProperty('notify');
    const text = JSON.stringify(await bodies());
    expect(text).not.toContain(secretOf(token));
    const row = await h.testStore.store.db
      .selectFrom('api_tokens')
      .select('hash')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(text).not.toContain(row.hash);
    for (const e of trail) validate(e);
  });

  it('an admin revoking someone else’s token is the actor, and the owner is told', async () => {
    const made = await call(h.tokens.bob as string, 'POST', '/v1/tokens', {
      name: 'bot',
      scopes: ['approvals:write'],
      expiresInDays: 1,
    });
    const id = made.body.id as string;
    // Someone who may not: not found, and no event.
    expect((await call(h.tokens.mallory as string, 'DELETE', `/v1/tokens/${id}`)).status).toBe(404);
    expect((await call(h.tokens.root as string, 'DELETE', `/v1/tokens/${id}`)).status).toBe(200);
    const revoked = (await about(id)).filter((e) => e.action === 'token.revoked');
    expect(revoked).toHaveLength(1);
    expect(revoked[0]).toMatchObject({
      actor: 'root',
      target: { principal: 'bob' },
      details: { id, user: 'bob', scopes: ['approvals:write'], notify: ['bob'] },
    });
    validate(revoked[0] as AuditEventBody);
  });

  it('a refused creation writes neither a token nor an event', async () => {
    const before = (await bodies()).length;
    const tokens = await h.testStore.store.db.selectFrom('api_tokens').select('id').execute();
    const res = await call(h.tokens.alice as string, 'POST', '/v1/tokens', {
      name: 'x',
      scopes: ['requests:read'],
      expiresInDays: 91,
    });
    expect(res.status).toBe(400);
    expect((await bodies()).length).toBe(before);
    expect(await h.testStore.store.db.selectFrom('api_tokens').select('id').execute()).toEqual(tokens);
  });

  it('a token made on the host is announced exactly once, before its first use acts, however many first requests race', async () => {
    const made = await hostToken('alice');
    // All first uses at once: two that act (each writes its request's event) and ten that only read.
    const [answers, reads] = await Promise.all([
      Promise.all(
        Array.from({ length: 2 }, (_, i) =>
          call(made.token, 'POST', '/v1/requests', {
            resource: 'prod-db',
            role: 'admin',
            reason: `INC-4${i}`,
          }),
        ),
      ),
      Promise.all(Array.from({ length: 10 }, () => call(made.token, 'GET', '/v1/whoami'))),
    ]);
    expect(answers.map((a) => a.status)).toEqual([201, 201]);
    expect(reads.map((a) => a.status)).toEqual(Array(10).fill(200));

    const trail = await bodies();
    const announced = trail.filter((e) => e.action === 'token.host-created' && e.details.id === made.id);
    expect(announced).toHaveLength(1);
    const event = announced[0] as AuditEventBody;
    expect(event).toMatchObject({
      requestId: null,
      target: { principal: 'alice' },
      source: { userAgent: 'token-audit-test' },
      details: { id: made.id, name: 'ops', user: 'alice', scopes: null, host: hostname(), used: true },
    });
    expect(event.actor).toBe(`host:${event.details.by}@${hostname()}`);
    expect(String(event.details.by)).not.toBe('');
    expect(event.details.notify).toEqual(['alice']);
    // Both requests the token made come after it.
    const ids = answers.map((a) => a.body.id as string);
    const requests = trail.filter((e) => e.action === 'request.created' && ids.includes(e.requestId ?? ''));
    expect(requests).toHaveLength(2);
    for (const r of requests) expect(r.seq).toBeGreaterThan(event.seq);
    expect(JSON.stringify(trail)).not.toContain(secretOf(made.token));
    validate(event);

    // Announced: the sweep has nothing more to say about it.
    await h.stint.sweep();
    expect(await about(made.id)).toHaveLength(1);
  });

  it('a token made on the host that nobody uses is announced by the sweep, once', async () => {
    const made = await hostToken('carol', 'never used');
    expect(await about(made.id)).toEqual([]);
    await h.stint.sweep();
    await h.stint.sweep();
    const trail = await about(made.id);
    expect(trail.map((e) => e.action)).toEqual(['token.host-created']);
    expect(trail[0]).toMatchObject({
      source: null,
      details: { user: 'carol', name: 'never used', used: false, notify: ['carol'] },
    });
    validate(trail[0] as AuditEventBody);
    // Its first use later writes nothing more.
    expect((await call(made.token, 'GET', '/v1/whoami')).status).toBe(200);
    expect(await about(made.id)).toHaveLength(1);
  });

  it('a revocation on the host is announced; one made and revoked unused shows both, in order', async () => {
    const unused = await hostToken('erin', 'short-lived');
    await revokeApiToken({ id: unused.id, databaseUrl: h.testStore.url });
    // Used (so announced) through the API, then revoked on the host.
    const apiMade = await call(h.tokens.bob as string, 'POST', '/v1/tokens', {
      name: 'pipeline',
      scopes: ['requests:read'],
      expiresInDays: 3,
    });
    const apiId = apiMade.body.id as string;
    await revokeApiToken({ id: apiId, databaseUrl: h.testStore.url });
    // Revoking it again on the host changes nothing, and nothing more is told.
    await revokeApiToken({ id: apiId, databaseUrl: h.testStore.url });

    await h.stint.sweep();
    await h.stint.sweep();
    const unusedTrail = await about(unused.id);
    expect(unusedTrail.map((e) => e.action)).toEqual(['token.host-created', 'token.host-revoked']);
    const apiTrail = await about(apiId);
    expect(apiTrail.map((e) => e.action)).toEqual(['token.created', 'token.host-revoked']);
    const revoked = apiTrail[1] as AuditEventBody;
    expect(revoked).toMatchObject({
      target: { principal: 'bob' },
      details: {
        id: apiId,
        user: 'bob',
        scopes: ['requests:read'],
        host: hostname(),
        revokedAt: expect.any(String),
        notify: ['bob'],
      },
    });
    expect(revoked.actor).toBe(`host:${revoked.details.by}@${hostname()}`);
    for (const e of [...unusedTrail, ...apiTrail]) validate(e);
    const text = JSON.stringify(await bodies());
    expect(text).not.toContain(secretOf(unused.token));
    expect(text).not.toContain(secretOf(apiMade.body.token));
    // Refused once revoked, whoever revoked it.
    expect((await call(unused.token, 'GET', '/v1/whoami')).status).toBe(401);
  });

  it('an API revocation of a host-made token nobody used tells its creation first', async () => {
    const made = await hostToken('dave', 'handed over');
    expect((await call(h.tokens.root as string, 'DELETE', `/v1/tokens/${made.id}`)).status).toBe(200);
    const trail = await about(made.id);
    expect(trail.map((e) => [e.action, e.actor.startsWith('host:') ? 'host' : e.actor])).toEqual([
      ['token.host-created', 'host'],
      ['token.revoked', 'root'],
    ]);
    expect(trail[1]?.details).toMatchObject({ scopes: null, notify: ['dave'] });
    for (const e of trail) validate(e);
  });
});
