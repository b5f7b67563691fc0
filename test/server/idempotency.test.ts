import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

/**
 * Idempotency-Key (draft-ietf-httpapi-idempotency-key-header) on state-changing routes, as a caller sees it:
 * the same call again answers what the first answered (not "already reviewed"), another call with the key is
 * refused, keys are per caller, and stored answers carrying a secret are sealed at rest.
 */
describe.each(STORE_KINDS)('Idempotency-Key (%s store)', (kind) => {
  let h: Harness;
  let now = Date.now();
  beforeAll(async () => {
    h = await createHarness(kind, { clock: () => new Date(now) });
  });
  afterAll(async () => {
    await h?.close();
  });

  async function send(user: string, method: 'POST' | 'DELETE', url: string, key?: string, body?: unknown) {
    const res = await h.app.inject({
      method,
      url,
      headers: {
        authorization: `Bearer ${h.tokens[user]}`,
        ...(key === undefined ? {} : { 'idempotency-key': key }),
      },
      ...(body === undefined ? {} : { payload: body as object }),
    });
    return { status: res.statusCode, body: res.body ? res.json() : null, headers: res.headers };
  }
  const tokenId = (token: string) => /^stint_([A-Za-z0-9_-]{16})\./.exec(token)?.[1] ?? '';
  const count = async () =>
    Number(
      (
        await h.testStore.store.db
          .selectFrom('requests')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('replays a create: one request, the same answer', async () => {
    const key = randomUUID();
    const body = { resource: 'prod-db', role: 'read', reason: 'idem' };
    const before = await count();
    const first = await send('alice', 'POST', '/v1/requests', key, body);
    expect(first.status).toBe(201);
    const again = await send('alice', 'POST', '/v1/requests', `"${key}"`, body);
    expect(again.status).toBe(201);
    expect(again.headers['idempotency-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await count()).toBe(before + 1);
  });

  it('replays an approval instead of answering 409', async () => {
    const created = await send('alice', 'POST', '/v1/requests', undefined, {
      resource: 'prod-db',
      role: 'read',
      reason: 'peer',
    });
    const key = randomUUID();
    const path = `/v1/requests/${created.body.id}/approve`;
    const first = await send('bob', 'POST', path, key, {});
    expect(first.status).toBe(200);
    await h.settled(created.body.id);
    const again = await send('bob', 'POST', path, key, {});
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(created.body.id);
    expect(again.body.reviews).toEqual(first.body.reviews);
    // Without the key, the same approval is what it is: a second review of a request no longer pending.
    const keyless = await send('bob', 'POST', path, undefined, {});
    expect(keyless.status).toBe(409);
  });

  it('refuses the key with another body or path (422), and a malformed key (400), changing nothing', async () => {
    const key = randomUUID();
    const body = { resource: 'prod-db', role: 'read', reason: 'one' };
    await send('alice', 'POST', '/v1/requests', key, body);
    const before = await count();
    const other = await send('alice', 'POST', '/v1/requests', key, { ...body, reason: 'two' });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const elsewhere = await send('alice', 'POST', '/v1/requests/req_0000000000000000/withdraw', key, {});
    expect(elsewhere.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    for (const bad of [
      'short',
      'x'.repeat(129),
      'has space in it 0123',
      '"unterminated-0123456789',
      'é'.repeat(20),
    ]) {
      const res = await send('alice', 'POST', '/v1/requests', bad, { ...body, reason: 'bad' });
      expect(res.status, bad).toBe(400);
      expect(res.body.error.code).toBe('IDEMPOTENCY_KEY_INVALID');
    }
    expect(await count()).toBe(before);
  });

  it("never replays another caller's answer under the same key", async () => {
    const key = randomUUID();
    const body = { resource: 'prod-db', role: 'read', reason: 'mine' };
    const alice = await send('alice', 'POST', '/v1/requests', key, body);
    const bob = await send('bob', 'POST', '/v1/requests', key, body);
    expect(bob.status).toBe(201);
    expect(bob.headers['idempotency-replayed']).toBeUndefined();
    expect(bob.body.requester).toBe('bob');
    expect(bob.body.id).not.toBe(alice.body.id);
  });

  it('answers 409 IDEMPOTENCY_KEY_IN_USE while the first is unanswered, and frees a key whose attempt failed', async () => {
    const key = randomUUID();
    const body = { resource: 'prod-db', role: 'read', reason: 'held' };
    // The state of a first attempt that is still running: the key is held and has no answer yet.
    const held = await h.stint.idempotency.service.begin({
      caller: 'alice',
      key,
      method: 'POST',
      path: '/v1/requests',
      fingerprint: createHash('sha256').update(JSON.stringify(body)).digest('hex'),
    });
    expect(held.kind).toBe('run');
    const meanwhile = await send('alice', 'POST', '/v1/requests', key, body);
    expect(meanwhile.status).toBe(409);
    expect(meanwhile.body.error.code).toBe('IDEMPOTENCY_KEY_IN_USE');

    // A refusal changes nothing and keeps nothing: the same key runs again once the cause is gone.
    const refusedKey = randomUUID();
    const refused = await send('alice', 'POST', '/v1/requests', refusedKey, { ...body, resource: 'nope' });
    expect(refused.body.error.code).toBe('UNKNOWN_RESOURCE');
    const row = await h.testStore.store.db
      .selectFrom('idempotency_keys')
      .select('key')
      .where('key', '=', refusedKey)
      .executeTakeFirst();
    expect(row).toBeUndefined();
  });

  it('seals a replayed credential at rest, and forgets keys after 24 hours', async () => {
    const { id } = await activeGrant(h, { resource: 'staging-db', role: 'read', reason: 'secret' });
    const key = randomUUID();
    const path = `/v1/requests/${id}/credentials`;
    const first = await send('alice', 'POST', path, key);
    expect(first.status).toBe(200);
    const password: string = first.body.secret.password;
    expect(password.length).toBeGreaterThan(10);
    const again = await send('alice', 'POST', path, key);
    expect(again.body.secret.password).toBe(password);
    // Another caller with the key is not a replay: the route refuses them as it would anyone.
    const other = await send('bob', 'POST', path, key);
    expect(other.body.secret).toBeUndefined();

    const rows = await h.testStore.store.db.selectFrom('idempotency_keys').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(password);

    now += 24 * 60 * 60 * 1000;
    expect(await h.stint.idempotency.service.sweep()).toBeGreaterThan(0);
    const left = await h.testStore.store.db.selectFrom('idempotency_keys').selectAll().execute();
    expect(left).toEqual([]);
    now -= 24 * 60 * 60 * 1000;
    await h.as('alice').post(`/v1/requests/${id}/revoke`, {});
  });

  it('answers a retry from the record committed with the change, when nothing after the commit ran', async () => {
    const created = await send('alice', 'POST', '/v1/requests', undefined, {
      resource: 'prod-db',
      role: 'read',
      reason: 'lost answer',
    });
    const id: string = created.body.id;
    const key = randomUUID();
    const path = `/v1/requests/${id}/approve`;
    const idem = h.stint.idempotency.service;
    const use = {
      caller: 'bob',
      key,
      method: 'POST',
      path,
      fingerprint: createHash('sha256').update(JSON.stringify({})).digest('hex'),
    };
    // What the route does up to the commit; the answer is then lost (the server or its store died): the key's
    // only record of the answer is the one written in the approval's own transaction.
    const begun = await idem.begin(use);
    if (begun.kind !== 'run') throw new Error('expected a fresh key');
    await h.stint.requests.service.review(
      {
        userId: 'bob',
        security: false,
        admin: false,
        auditor: false,
        // The API token bob stepped up with: approving critical access needs that fresh second factor.
        credential: { kind: 'api-token', id: tokenId(h.tokens.bob as string), scopes: null },
      },
      id,
      'approve',
      '',
      { record: (trx, body) => idem.complete(trx, use, begun.attempt, { status: 200, body }) },
    );
    await h.settled(id);

    const retry = await send('bob', 'POST', path, key, {});
    expect(retry.status).toBe(200);
    expect(retry.headers['idempotency-replayed']).toBe('true');
    expect(retry.body.id).toBe(id);
    expect(retry.body.state).toBe('approved');
  });

  it('replays a minted token (recorded once answered), one token made', async () => {
    const key = randomUUID();
    const body = { name: 'ci', scopes: ['requests:read'], expiresInDays: 1 };
    const first = await send('carol', 'POST', '/v1/tokens', key, body);
    expect(first.status).toBe(201);
    const again = await send('carol', 'POST', '/v1/tokens', key, body);
    expect(again.status).toBe(201);
    expect(again.headers['idempotency-replayed']).toBe('true');
    expect(again.body.token).toBe(first.body.token);
    const made = await h.testStore.store.db
      .selectFrom('api_tokens')
      .select('id')
      .where('user_id', '=', 'carol')
      .where('name', '=', 'ci')
      .execute();
    expect(made).toHaveLength(1);
    const rows = await h.testStore.store.db.selectFrom('idempotency_keys').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(first.body.token);
  });

  it('documents the header on every idempotent route', async () => {
    const doc = (await h.app.inject({ url: '/openapi.json' })).json();
    const approve = doc.paths['/v1/requests/{id}/approve'].post;
    expect(approve.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toContain(
      'header:idempotency-key',
    );
    expect(Object.keys(approve.responses)).toContain('422');
    for (const [path, method] of [
      ['/v1/requests', 'post'],
      ['/v1/requests/{id}/credentials', 'post'],
      ['/v1/tokens', 'post'],
      ['/v1/tokens/{id}', 'delete'],
    ] as const) {
      const names = doc.paths[path][method].parameters?.map((p: { name: string }) => p.name) ?? [];
      expect(names, `${method} ${path}`).toContain('idempotency-key');
    }
  });
});
