import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { sharedSchemas } from '../../src/http/schemas.js';
import { approvalStepUpReason } from '../../src/mfa/approval-step-up.js';
import { mfaRoutes } from '../../src/mfa/mfa-routes.js';
import { createMfaService } from '../../src/mfa/mfa-service.js';
import { createStepUp, type StepUp } from '../../src/mfa/step-up.js';
import { requestRoutes } from '../../src/requests/request-routes.js';
import type { RequestService } from '../../src/requests/request-types.js';
import { registerErrorHandler } from '../../src/server/error-handler.js';
import { registerValidation } from '../../src/server/validation.js';
import { createHarness, type Harness } from '../support/harness.js';
import { snapshot } from '../support/snapshot.js';
import { totpCode, wrongTotpCodes } from '../support/step-up.js';
import { STORE_KINDS } from '../support/stores.js';

/**
 * Until review() calls the step-up itself, this test composes the gate the way the request service will: the
 * same pure rule (approvalStepUpReason) and the same StepUp, in front of the real service, behind the real
 * routes. Callers are identified by a test header so this does not depend on how sign-in works.
 */
function gated(
  service: RequestService,
  stepUp: StepUp,
  sensitivityOf: (resource: string) => string | undefined,
) {
  return {
    ...service,
    async review(actor, id, decision, comment) {
      const request = await service.get(actor, id);
      const reason = approvalStepUpReason(sensitivityOf(request.resource) as never, decision);
      if (reason) await stepUp.require(actor, reason);
      return service.review(actor, id, decision, comment);
    },
  } satisfies RequestService;
}

describe.each(STORE_KINDS)('approving a critical request needs a fresh second factor (%s)', (kind) => {
  let h: Harness;
  let app: FastifyInstance;
  let offsetMs = 0;
  const clock = () => new Date(Date.now() + offsetMs);

  beforeAll(async () => {
    h = await createHarness(kind, { stepUp: false });
    const stepUp = createStepUp({ store: h.stint.deps.store, clock, maxAgeSeconds: 900 });
    const mfa = createMfaService({
      store: h.stint.deps.store,
      audit: h.stint.audit.writer,
      secrets: createSecretBox(randomBytes(32)),
      clock,
      stepUp,
      config: { maxAgeSeconds: 900, issuer: 'Stint', webauthn: null },
    });
    const policy = h.stint.deps.policy;
    app = Fastify();
    registerValidation(app);
    for (const schema of sharedSchemas) app.addSchema(schema);
    registerErrorHandler(app);
    app.decorateRequest('actor', null);
    app.addHook('onRequest', async (request) => {
      const user = policy.current().users.get(String(request.headers['x-test-user']));
      if (user) {
        request.actor = {
          userId: user.id,
          security: user.security,
          admin: user.admin,
          auditor: user.auditor,
          // A person in a session they just signed in to: the only caller that may enrol factors.
          credential: { kind: 'session', id: `session-${user.id}`, scopes: null },
          authAt: clock(),
        };
      }
    });
    await app.register(
      requestRoutes(
        gated(h.stint.requests.service, stepUp, (r) => policy.current().resources.get(r)?.sensitivity),
      ),
    );
    await app.register(mfaRoutes(mfa));
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  const as = (user: string) => ({
    async post(url: string, body?: object) {
      const res = await app.inject({
        method: 'POST',
        url,
        headers: { 'x-test-user': user },
        ...(body === undefined ? {} : { payload: body }),
      });
      return { status: res.statusCode, body: res.json(), headers: res.headers };
    },
    async get(url: string) {
      const res = await app.inject({ method: 'GET', url, headers: { 'x-test-user': user } });
      return { status: res.statusCode, body: res.json() };
    },
  });
  const code = (secret: string) => totpCode(secret, clock());

  it('refuses without MFA and changes nothing; approves after a TOTP step-up; refuses again after 15m', async () => {
    const created = await as('alice').post('/v1/requests', {
      resource: 'prod-db',
      role: 'read',
      reason: 'debug',
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    // No factor at all.
    const before = await snapshot(h.testStore.store);
    const refused = await as('bob').post(`/v1/requests/${id}/approve`, { comment: 'ok' });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('MFA_REQUIRED');
    expect(refused.body.error.message).toMatch(
      /^approving a critical request needs a second factor verified in the last 15m/,
    );
    expect(refused.body.error.details).toEqual({ methods: [], maxAgeSeconds: 900 });
    expect(await snapshot(h.testStore.store)).toEqual(before);
    expect((await as('bob').get(`/v1/requests/${id}`)).body.state).toBe('pending');

    // Enrolled and confirmed, but not verified: still refused, now with the method to use.
    const enroll = await as('bob').post('/v1/mfa/totp/enroll');
    expect(enroll.status).toBe(201);
    expect(enroll.headers['cache-control']).toBe('no-store');
    const secret = enroll.body.secret as string;
    expect(enroll.body.otpauthUrl).toContain(`secret=${secret}`);
    expect((await as('bob').post('/v1/mfa/totp/confirm', { code: await code(secret) })).body.totp).toBe(
      'confirmed',
    );
    const stillRefused = await as('bob').post(`/v1/requests/${id}/approve`, { comment: 'ok' });
    expect(stillRefused.body.error).toMatchObject({ code: 'MFA_REQUIRED', details: { methods: ['totp'] } });

    // Step up, then approve.
    offsetMs += 30_000;
    const [wrongCode] = await wrongTotpCodes(secret, clock(), 1);
    const wrong = await as('bob').post('/v1/mfa/verify', { method: 'totp', code: wrongCode });
    expect([wrong.status, wrong.body.error.code]).toEqual([400, 'MFA_INVALID']);
    const malformed = await as('bob').post('/v1/mfa/verify', { method: 'totp', code: '12345' });
    expect([malformed.status, malformed.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    const good = await code(secret);
    const verified = await as('bob').post('/v1/mfa/verify', { method: 'totp', code: good });
    expect(verified.status).toBe(200);
    expect(Date.parse(verified.body.validUntil) - Date.parse(verified.body.verifiedAt)).toBe(900_000);
    const replayed = await as('bob').post('/v1/mfa/verify', { method: 'totp', code: good });
    expect([replayed.status, replayed.body.error.code]).toEqual([400, 'MFA_REPLAYED']);
    expect((await as('bob').get('/v1/mfa')).body).toMatchObject({
      totp: 'confirmed',
      verifiedAt: verified.body.verifiedAt,
    });

    const approved = await as('bob').post(`/v1/requests/${id}/approve`, { comment: 'ok' });
    expect(approved.status).toBe(200);
    expect(['approved', 'active']).toContain(approved.body.state);

    // Denying never needs a second factor.
    const second = (
      await as('alice').post('/v1/requests', { resource: 'prod-db', role: 'read', reason: 'again' })
    ).body.id as string;
    offsetMs += 15 * 60_000;
    const expired = await as('bob').post(`/v1/requests/${second}/approve`, { comment: 'ok' });
    expect([expired.status, expired.body.error.code]).toEqual([403, 'MFA_REQUIRED']);
    const denied = await as('bob').post(`/v1/requests/${second}/deny`, { comment: 'no' });
    expect([denied.status, denied.body.state]).toEqual([200, 'denied']);
  });
});
