import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedSchemas } from '../../src/http/schemas.js';
import { mfaRoutes } from '../../src/mfa/mfa-routes.js';
import { registerErrorHandler } from '../../src/server/error-handler.js';
import { registerValidation } from '../../src/server/validation.js';
import { createMfaFixture, type MfaFixture, ORIGIN } from './mfa-fixture.js';
import { createSoftAuthenticator } from './soft-authenticator.js';

/** The WebAuthn ceremony through the HTTP routes: options out as the browser needs them, answers back in. */
describe('MFA routes over HTTP', () => {
  let f: MfaFixture;
  let app: FastifyInstance;

  beforeAll(async () => {
    f = await createMfaFixture('sqlite');
    app = Fastify();
    registerValidation(app);
    for (const schema of sharedSchemas) app.addSchema(schema);
    registerErrorHandler(app);
    app.decorateRequest('actor', null);
    app.addHook('onRequest', async (request) => {
      const user = request.headers['x-test-user'];
      if (typeof user === 'string')
        // A person in a session they just signed in to: the only caller that may enrol factors.
        request.actor = {
          userId: user,
          security: false,
          admin: false,
          auditor: false,
          credential: { kind: 'session', id: `session-${user}`, scopes: null },
          authAt: f.clock.now(),
        };
    });
    await app.register(mfaRoutes(f.mfa));
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await f?.close();
  });

  const post = async (url: string, body?: object, user = 'alice') => {
    const res = await app.inject({
      method: 'POST',
      url,
      headers: { 'x-test-user': user },
      ...(body === undefined ? {} : { payload: body }),
    });
    return { status: res.statusCode, body: res.json() };
  };

  it('registers and authenticates a software authenticator, and refuses the replayed answer', async () => {
    const key = createSoftAuthenticator();
    const options = await post('/v1/mfa/webauthn/register/options');
    expect(options.status).toBe(200);
    expect(options.body).toMatchObject({
      rp: { id: 'stint.example.test', name: 'Stint' },
      user: { name: 'alice' },
      attestation: 'none',
    });
    expect(options.body.challenge).toMatch(/^[\w-]{20,}$/);
    expect(options.body.pubKeyCredParams.length).toBeGreaterThan(0);

    const registered = await post('/v1/mfa/webauthn/register/verify', {
      response: key.register(options.body, ORIGIN),
    });
    expect(registered).toEqual({ status: 200, body: { credentialId: key.credentialId } });

    const request = await post('/v1/mfa/webauthn/authenticate/options');
    expect(request.status).toBe(200);
    expect(request.body.allowCredentials).toEqual([
      { id: key.credentialId, type: 'public-key', transports: ['usb'] },
    ]);
    const answer = key.authenticate(request.body, ORIGIN);
    const verified = await post('/v1/mfa/webauthn/authenticate/verify', { response: answer });
    expect(verified.status).toBe(200);
    expect(verified.body).toMatchObject({ method: 'webauthn', verifiedAt: f.clock.now().toISOString() });

    const replayed = await post('/v1/mfa/webauthn/authenticate/verify', { response: answer });
    expect([replayed.status, replayed.body.error.code]).toEqual([400, 'MFA_INVALID']);

    const status = await app.inject({ method: 'GET', url: '/v1/mfa', headers: { 'x-test-user': 'alice' } });
    expect(status.json()).toMatchObject({ totp: 'none', webauthnCredentials: 1, maxAgeSeconds: 900 });
  });

  it('refuses malformed bodies and unknown methods with VALIDATION_FAILED', async () => {
    for (const [url, body] of [
      ['/v1/mfa/verify', { method: 'webauthn', code: '123456' }],
      ['/v1/mfa/verify', { method: 'totp', code: '123456', extra: 1 }],
      ['/v1/mfa/totp/confirm', { code: 123456 }],
      ['/v1/mfa/webauthn/authenticate/verify', { response: { id: 'x' } }],
    ] as const) {
      const res = await post(url, body);
      expect([url, res.status, res.body.error.code]).toEqual([url, 400, 'VALIDATION_FAILED']);
    }
  });

  it('without a second factor: MFA_NOT_ENROLLED, 409', async () => {
    const res = await post('/v1/mfa/verify', { method: 'totp', code: '123456' }, 'bob');
    expect([res.status, res.body.error.code]).toEqual([409, 'MFA_NOT_ENROLLED']);
    const options = await post('/v1/mfa/webauthn/authenticate/options', undefined, 'bob');
    expect([options.status, options.body.error.code]).toEqual([409, 'MFA_NOT_ENROLLED']);
  });

  it('an unauthenticated call is refused', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/mfa/totp/enroll' });
    expect([res.statusCode, res.json().error.code]).toEqual([401, 'UNAUTHENTICATED']);
  });
});
