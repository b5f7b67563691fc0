import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../support/harness.js';
import { snapshot } from '../support/snapshot.js';

/** Every bad input gets a clear error with a stable code and leaves the store exactly as it was. */
describe('bad input through the API', () => {
  let h: Harness;
  let pendingManager: string;
  let pendingTwoPerson: string;
  let withdrawn: string;

  beforeAll(async () => {
    h = await createHarness('sqlite');
    pendingManager = (
      await h.as('alice').post('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-1' })
    ).body.id;
    pendingTwoPerson = (
      await h.as('alice').post('/v1/requests', { resource: 'payments-db', role: 'admin', reason: 'INC-2' })
    ).body.id;
    await h.as('sam').post(`/v1/requests/${pendingTwoPerson}/approve`, {});
    withdrawn = (
      await h.as('alice').post('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-3' })
    ).body.id;
    await h.as('alice').post(`/v1/requests/${withdrawn}/withdraw`, {});
  });
  afterAll(async () => {
    await h?.close();
  });

  async function expectRefused(
    act: () => Promise<{ status: number; body: { error: { code: string; message: string } } }>,
    status: number,
    code: string,
  ) {
    const before = await snapshot(h.testStore.store);
    const res = await act();
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message.length).toBeGreaterThan(5);
    expect(await snapshot(h.testStore.store)).toEqual(before);
    return res;
  }

  const ask = (body: unknown) => () => h.as('alice').post('/v1/requests', body);

  it('malformed JSON', async () => {
    await expectRefused(
      async () => {
        const res = await h.app.inject({
          method: 'POST',
          url: '/v1/requests',
          headers: { authorization: `Bearer ${h.tokens.alice}`, 'content-type': 'application/json' },
          payload: '{"resource": "prod-db",',
        });
        return { status: res.statusCode, body: res.json() };
      },
      400,
      'BAD_REQUEST',
    );
  });

  it('unknown fields', async () => {
    const res = await expectRefused(
      ask({ resource: 'prod-db', role: 'admin', reason: 'INC-1', sudo: true }),
      400,
      'VALIDATION_FAILED',
    );
    expect(JSON.stringify(res.body)).toContain('sudo');
  });

  it('missing fields', async () => {
    await expectRefused(ask({ resource: 'prod-db', reason: 'INC-1' }), 400, 'VALIDATION_FAILED');
  });

  it('unknown resource and unknown role', async () => {
    await expectRefused(
      ask({ resource: 'nope-db', role: 'admin', reason: 'INC-1' }),
      400,
      'UNKNOWN_RESOURCE',
    );
    await expectRefused(
      ask({ resource: 'prod-db', role: 'superuser', reason: 'INC-1' }),
      400,
      'UNKNOWN_ROLE',
    );
  });

  it('durations that are zero, negative, malformed or above the cap', async () => {
    for (const duration of ['0s', '0h', '-1h', 'two hours', '1.5h', '']) {
      await expectRefused(
        ask({ resource: 'prod-db', role: 'admin', reason: 'INC-1', duration }),
        400,
        'INVALID_DURATION',
      );
    }
    const res = await expectRefused(
      ask({ resource: 'prod-db', role: 'admin', reason: 'INC-1', duration: '5h' }),
      400,
      'DURATION_TOO_LONG',
    );
    expect(res.body.error.message).toMatch(/4h/);
    await expectRefused(
      ask({ resource: 'prod-db', role: 'admin', reason: 'INC-1', duration: '9h' }),
      400,
      'DURATION_TOO_LONG',
    );
  });

  it('missing or malformed ticket where one is required', async () => {
    await expectRefused(ask({ resource: 'prod-db', role: 'admin', reason: '' }), 400, 'TICKET_REQUIRED');
    const res = await expectRefused(
      ask({ resource: 'prod-db', role: 'admin', reason: 'because' }),
      400,
      'TICKET_MALFORMED',
    );
    expect(res.body.error.message).toMatch(/INC/);
    await expectRefused(
      ask({ resource: 'prod-db', role: 'admin', reason: 'http://tracker.example.com/1' }),
      400,
      'TICKET_MALFORMED',
    );
  });

  it('asking for something no rule allows', async () => {
    await expectRefused(
      () => h.as('mallory').post('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-1' }),
      403,
      'NOT_ELIGIBLE',
    );
  });

  it('approving one’s own request', async () => {
    await expectRefused(
      () => h.as('alice').post(`/v1/requests/${pendingManager}/approve`, {}),
      403,
      'SELF_APPROVAL',
    );
  });

  it('approving twice', async () => {
    await expectRefused(
      () => h.as('sam').post(`/v1/requests/${pendingTwoPerson}/approve`, {}),
      409,
      'ALREADY_REVIEWED',
    );
  });

  it('approving a request of a tier one is not entitled to', async () => {
    // bob is alice's teammate (a peer), but prod-db admin needs her manager: to him the request does not exist.
    await expectRefused(
      () => h.as('bob').post(`/v1/requests/${pendingManager}/approve`, {}),
      404,
      'REQUEST_NOT_FOUND',
    );
    // Security may read every request but is not alice's manager either.
    await expectRefused(
      () => h.as('sam').post(`/v1/requests/${pendingManager}/approve`, {}),
      403,
      'NOT_AN_APPROVER',
    );
    // An admin configures Stint; approving is not part of it.
    await expectRefused(
      () => h.as('root').post(`/v1/requests/${pendingManager}/approve`, {}),
      403,
      'NOT_AN_APPROVER',
    );
  });

  it('acting on a terminal request', async () => {
    await expectRefused(
      () => h.as('carol').post(`/v1/requests/${withdrawn}/approve`, {}),
      409,
      'INVALID_TRANSITION',
    );
    await expectRefused(
      () => h.as('carol').post(`/v1/requests/${withdrawn}/deny`, {}),
      409,
      'INVALID_TRANSITION',
    );
    await expectRefused(
      () => h.as('alice').post(`/v1/requests/${withdrawn}/withdraw`, {}),
      409,
      'INVALID_TRANSITION',
    );
    await expectRefused(
      () => h.as('alice').post(`/v1/requests/${withdrawn}/revoke`, {}),
      409,
      'INVALID_TRANSITION',
    );
    await expectRefused(
      () => h.as('alice').post(`/v1/requests/${withdrawn}/credentials`),
      409,
      'CREDENTIAL_NOT_AVAILABLE',
    );
  });

  it('ids that are malformed or unknown', async () => {
    await expectRefused(() => h.as('alice').get('/v1/requests/../../etc'), 404, 'NOT_FOUND');
    await expectRefused(() => h.as('alice').get('/v1/requests/req_zz'), 400, 'VALIDATION_FAILED');
    await expectRefused(
      () => h.as('alice').get('/v1/requests/req_0000000000000000'),
      404,
      'REQUEST_NOT_FOUND',
    );
  });

  it('missing, malformed and unknown tokens', async () => {
    for (const authorization of [
      undefined,
      'Bearer ',
      'Basic abc',
      'Bearer stint_x.y',
      `Bearer ${h.tokens.alice}x`,
    ]) {
      await expectRefused(
        async () => {
          const res = await h.app.inject({
            method: 'GET',
            url: '/v1/whoami',
            headers: authorization === undefined ? {} : { authorization },
          });
          return { status: res.statusCode, body: res.json() };
        },
        401,
        'UNAUTHENTICATED',
      );
    }
  });

  it('a bad comment body on approve', async () => {
    await expectRefused(
      () => h.as('carol').post(`/v1/requests/${pendingManager}/approve`, { comment: 5 }),
      400,
      'VALIDATION_FAILED',
    );
    await expectRefused(
      () => h.as('carol').post(`/v1/requests/${pendingManager}/approve`, { comment: 'ok', extra: 1 }),
      400,
      'VALIDATION_FAILED',
    );
  });
});
