import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionStore } from '../../src/identity/session-store.js';
import { createFullApp, FULL_SCIM_TOKEN, type FullApp } from '../support/full-app.js';
import { snapshot } from '../support/snapshot.js';
import { STORE_KINDS } from '../support/stores.js';

const SCIM_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const JSON_TYPE = { 'content-type': 'application/json' };

/** One raw HTTP/1.1 exchange over a socket: what Node's parser refuses never reaches inject(). */
function rawExchange(port: number, request: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d) => {
      text += d.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const [head = '', body = ''] = text.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const type = /content-type: ([^\r\n]+)/i.exec(head)?.[1] ?? '';
      if (status === 0) reject(new Error(`no answer: ${text.slice(0, 100)}`));
      else resolve({ status, type, body });
    });
    socket.write(request);
  });
}

describe.each(STORE_KINDS)('the HTTP boundary (%s store)', (kind) => {
  let f: FullApp;
  const as = (user: string) => ({ authorization: `Bearer ${f.h.tokens[user]}` });
  const scim = { authorization: `Bearer ${FULL_SCIM_TOKEN}` };

  beforeAll(async () => {
    f = await createFullApp(kind);
  });
  afterAll(async () => {
    await f?.close();
  });

  it('a lone UTF-16 surrogate in a comment is a 400 with a code, and changes nothing (issue 15)', async () => {
    const id = (
      await f.h.as('alice').post('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-1' })
    ).body.id;
    const before = await snapshot(f.h.testStore.store);
    for (const comment of ['x\\ud800y', '\\udfff', 'a\\u0000b']) {
      const res = await f.app.inject({
        method: 'POST',
        url: `/v1/requests/${id}/approve`,
        headers: { ...as('carol'), ...JSON_TYPE },
        payload: `{"comment":"${comment}"}`,
      });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().error.code).toBe('BAD_REQUEST');
    }
    expect(await snapshot(f.h.testStore.store)).toEqual(before);
    // A paired surrogate (an emoji) is text like any other.
    const ok = await f.app.inject({
      method: 'POST',
      url: `/v1/requests/${id}/approve`,
      headers: { ...as('carol'), ...JSON_TYPE },
      payload: '{"comment":"ok \\ud83d\\ude00"}',
    });
    expect(ok.statusCode, ok.body).toBe(200);
  });

  it('routes without a body refuse any body, and enroll changes nothing (issue 16)', async () => {
    const totp = async () =>
      (await f.h.testStore.store.db.selectFrom('mfa_totp').select('user_id').execute())
        .map((r) => r.user_id)
        .sort();
    await f.h.testStore.store.db.deleteFrom('mfa_totp').where('user_id', '=', 'mallory').execute();
    const factorsBefore = await totp();
    const bodies = ['[]', 'null', '"str"', '{}', '{"unknown":1}', `${'['.repeat(5000)}${']'.repeat(5000)}`];
    for (const url of ['/auth/logout', '/v1/audit/verify', '/v1/mfa/totp/enroll']) {
      for (const payload of bodies) {
        const res = await f.app.inject({
          method: 'POST',
          url,
          headers: { ...as('mallory'), ...JSON_TYPE },
          payload,
        });
        expect(res.statusCode, `${url} ${payload.slice(0, 20)}`).toBe(400);
        expect(['VALIDATION_FAILED', 'BAD_REQUEST']).toContain(res.json().error.code);
      }
    }
    expect(await totp()).toEqual(factorsBefore);
    // Without a body (or with an empty one under a JSON content type) the route works as before: in a session
    // mallory has just signed in to, as enrolling a factor requires.
    const now = new Date();
    const session = await createSessionStore(f.h.testStore.store.db).create({
      userId: 'mallory',
      source: 'cli',
      now,
      ttlMs: 3_600_000,
      mfaAt: null,
      authAt: now,
    });
    const enrolled = await f.app.inject({
      method: 'POST',
      url: '/v1/mfa/totp/enroll',
      headers: { authorization: `Bearer ${session.token}` },
    });
    expect(enrolled.statusCode, enrolled.body).toBe(201);
    const logout = await f.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { ...as('mallory'), ...JSON_TYPE },
      payload: '',
    });
    expect(logout.statusCode, logout.body).toBe(204);
  });

  it('query numbers are decimal text only: 1e400, Infinity and 0x10 are refused', async () => {
    for (const url of [
      '/v1/requests?limit=1e400',
      '/v1/requests?limit=0x10',
      '/v1/audit/events?after=Infinity',
      '/v1/audit/leaves?start=1e400',
      '/v1/audit/checkpoints?limit=%205',
    ]) {
      const res = await f.app.inject({ method: 'GET', url, headers: as('root') });
      expect(res.statusCode, `${url}: ${res.body}`).toBe(400);
      expect(res.json().error.code).toBe('VALIDATION_FAILED');
    }
    expect(
      (await f.app.inject({ method: 'GET', url: '/v1/requests?limit=5', headers: as('root') })).statusCode,
    ).toBe(200);
  });

  it('URLs Fastify refuses answer in Stint’s shape, and in SCIM’s under /scim', async () => {
    const bad = await f.app.inject({ method: 'GET', url: '/v1/requests/%E0%A4%A', headers: as('alice') });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('BAD_REQUEST');
    const long = await f.app.inject({
      method: 'GET',
      url: `/v1/requests/${'a'.repeat(300)}`,
      headers: as('alice'),
    });
    expect(long.statusCode).toBe(414);
    expect(long.json().error.code).toBe('BAD_REQUEST');
    expect(long.body.length).toBeLessThan(200);
    const scimBad = await f.app.inject({ method: 'GET', url: '/scim/v2/Users/%E0%A4%A', headers: scim });
    expect(scimBad.statusCode).toBe(400);
    expect(scimBad.headers['content-type']).toMatch(/^application\/scim\+json/);
    expect(scimBad.json()).toMatchObject({ schemas: [SCIM_ERROR], status: '400' });
  });

  it('oversized headers and URLs answer 431 in SCIM’s error schema under /scim, Stint’s elsewhere', async () => {
    const address = await f.app.listen({ host: '127.0.0.1', port: 0 });
    const port = Number(new URL(address).port);
    const big = 'x'.repeat(20_000);
    const scimHeader = await rawExchange(
      port,
      `GET /scim/v2/Users HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${FULL_SCIM_TOKEN}\r\nX-Big: ${big}\r\n\r\n`,
    );
    expect(scimHeader.status).toBe(431);
    expect(scimHeader.type).toMatch(/^application\/scim\+json/);
    expect(JSON.parse(scimHeader.body)).toMatchObject({ schemas: [SCIM_ERROR], status: '431' });
    const scimUrl = await rawExchange(port, `GET /scim/v2/Users?filter=${big} HTTP/1.1\r\nHost: a\r\n\r\n`);
    expect(scimUrl.status).toBe(431);
    expect(JSON.parse(scimUrl.body)).toMatchObject({ schemas: [SCIM_ERROR], status: '431' });
    const api = await rawExchange(port, `GET /v1/requests?x=${big} HTTP/1.1\r\nHost: a\r\n\r\n`);
    expect(api.status).toBe(431);
    expect(JSON.parse(api.body).error.code).toBe('BAD_REQUEST');
    const garbage = await rawExchange(port, 'NOT HTTP AT ALL\r\n\r\n');
    expect(garbage.status).toBe(400);
    expect(JSON.parse(garbage.body).error.code).toBe('BAD_REQUEST');
  });

  describe('SCIM', () => {
    it('a DELETE with a SCIM content type and no body deprovisions (issue 16)', async () => {
      const made = await f.app.inject({
        method: 'POST',
        url: '/scim/v2/Users',
        headers: { ...scim, 'content-type': 'application/scim+json' },
        payload: JSON.stringify({
          schemas: [USER],
          userName: 'leaver',
          emails: [{ value: 'leaver@corp.example' }],
        }),
      });
      expect(made.statusCode, made.body).toBe(201);
      const id = made.json().id as string;
      const gone = await f.app.inject({
        method: 'DELETE',
        url: `/scim/v2/Users/${id}`,
        headers: { ...scim, 'content-type': 'application/scim+json' },
      });
      expect(gone.statusCode, gone.body).toBe(204);
      expect(
        (await f.app.inject({ method: 'GET', url: `/scim/v2/Users/${id}`, headers: scim })).statusCode,
      ).toBe(404);
    });

    it('POST /Bulk is 501, as RFC 7644 says and ServiceProviderConfig advertises', async () => {
      const res = await f.app.inject({
        method: 'POST',
        url: '/scim/v2/Bulk',
        headers: { ...scim, 'content-type': 'application/scim+json' },
        payload: '{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[]}',
      });
      expect(res.statusCode, res.body).toBe(501);
      expect(res.json()).toMatchObject({ schemas: [SCIM_ERROR], status: '501' });
      const config = await f.app.inject({
        method: 'GET',
        url: '/scim/v2/ServiceProviderConfig',
        headers: scim,
      });
      expect(config.json().bulk.supported).toBe(false);
    });

    it('an unknown SCIM path is a SCIM 404, not a 500, and no failed sign-in (issue 14)', async () => {
      const failed = async () =>
        (
          await f.h.testStore.store.db
            .selectFrom('audit_events')
            .select('seq')
            .where('action', '=', 'auth.failed')
            .execute()
        ).length;
      const before = await failed();
      for (const url of ['/scim/v2/Nope', '/scim/v2/Users/x/y', '/scim/v2/Me']) {
        const res = await f.app.inject({ method: 'GET', url, headers: scim });
        expect(res.statusCode, res.body).toBe(404);
        expect(res.json()).toMatchObject({ schemas: [SCIM_ERROR], status: '404' });
      }
      // Without the provisioning token it is SCIM's 401, still not one of Stint's sign-in failures.
      const anon = await f.app.inject({ method: 'GET', url: '/scim/v2/Nope' });
      expect(anon.statusCode).toBe(401);
      expect(anon.json()).toMatchObject({ schemas: [SCIM_ERROR], status: '401' });
      expect(await failed()).toBe(before);
    });
  });
});
