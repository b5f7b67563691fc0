import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPolicyHolder } from '../../src/app/policy-holder.js';
import { createStint, type Stint } from '../../src/app/stint.js';
import { generateNoteKey, parseSkey } from '../../src/audit/log/signed-note.js';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { directoryConfigFromEnv } from '../../src/directory/directory-config.js';
import type { DirectoryModule } from '../../src/directory/directory-module.js';
import { loadIdentityConfig } from '../../src/identity/identity-config.js';
import { silentLogger } from '../../src/logger.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import { createProvider } from '../../src/providers/registry.js';
import { buildHttpApp } from '../../src/server/http-app.js';
import { readStoreId } from '../../src/store/store-identity.js';
import { targetEnv } from '../support/harness.js';
import { createTestStore, STORE_KINDS, type TestStore } from '../support/stores.js';
import { freshIp, testIdentityConfig } from './fixtures.js';
import { startIdp, type TestIdp } from './idp.js';

const POLICY = `
version: 1
settings: { deployment: DEPLOYMENT }
users:
  - { id: carol, email: carol@example.com, name: Carol, teams: [leads] }
  - { id: alice, email: alice@example.com, name: Alice, manager: carol, teams: [leads] }
resources:
  - id: prod-db
    kind: postgres
    sensitivity: critical
    connection: { env: STINT_TEST_DB_URL }
    roles: { admin: { grants: [app_admin] } }
rules:
  - id: prod-db-admin
    resources: [prod-db]
    roles: [admin]
    who: { teams: [payments] }
    duration: { default: 1h, max: 4h }
    approval: [manager]
`;

const nonce = () => randomBytes(16).toString('base64url');

/**
 * The provider's claims as a directory source (STINT_OIDC_CLAIMS_DIRECTORY=1), wired as the server wires it:
 * a real oidc-provider asserts manager and groups, and each sign-in (CLI exchange or portal callback) records
 * them as that person's directory facts.
 */
describe.each(STORE_KINDS)('directory facts from OIDC claims (%s)', (kind) => {
  let idp: TestIdp;
  let testStore: TestStore;
  let module: DirectoryModule;
  let stint: Stint;
  let app: FastifyInstance;
  let checkpointDir: string;

  beforeAll(async () => {
    idp = await startIdp();
    testStore = await createTestStore(kind);
    const deployment = `test-${randomBytes(4).toString('hex')}`;
    const text = POLICY.replace('DEPLOYMENT', deployment);
    const holder = createPolicyHolder(parsePolicy(text, 'p.yaml'), () => parsePolicy(text, 'p.yaml'));
    const identity = testIdentityConfig(idp, {
      STINT_OIDC_CLAIMS_DIRECTORY: '1',
    });
    checkpointDir = mkdtempSync(join(tmpdir(), 'stint-checkpoints-'));
    const env = targetEnv();
    stint = createStint({
      store: testStore.store,
      storeId: await readStoreId(testStore.store.db),
      policy: holder,
      directory: { config: directoryConfigFromEnv({ STINT_OIDC_CLAIMS_DIRECTORY: '1' }) },
      identity,
      providerFactory: (r, owner) => createProvider(r, env, { owner: { ...owner, deployment } }),
      secrets: createSecretBox(randomBytes(32)),
      logger: silentLogger,
      audit: {
        signers: [parseSkey(generateNoteKey(`stint-test/${deployment}`).skey)],
        checkpointDir,
        checkpointIntervalMs: 200,
      },
    });
    if (stint.directory?.resolveUser == null) throw new Error('claims directory not configured');
    module = stint.directory;
    for (const job of module.module.jobs ?? []) await job.start();
    app = await buildHttpApp(stint);
  });
  afterAll(async () => {
    await app?.close();
    for (const job of module?.module.jobs ?? []) await job.stop();
    await stint?.stop();
    await testStore?.close();
    await idp?.close();
    if (checkpointDir) rmSync(checkpointDir, { recursive: true, force: true });
  });

  /** `stint login`: a real ID token from the provider for `email`, exchanged for a session token. */
  async function cliSignIn(email: string) {
    const n = nonce();
    const idToken = await idp.cliIdToken(n, email);
    return app.inject({
      method: 'POST',
      url: '/v1/auth/token',
      payload: { id_token: idToken, nonce: n },
      remoteAddress: freshIp(),
    });
  }

  /** The portal: Stint's redirect, the provider's login, the callback; the session cookie's value. */
  async function portalSignIn(email: string) {
    idp.nextLogin = { email, amr: ['pwd'] };
    idp.newBrowser();
    const begin = await app.inject({ method: 'GET', url: '/auth/login', remoteAddress: freshIp() });
    const loginCookie = begin.cookies.find((c) => c.name === 'stint_login')?.value as string;
    const back = await idp.browse(begin.headers.location as string);
    return app.inject({
      method: 'GET',
      url: `${back.pathname}${back.search}`,
      cookies: { stint_login: loginCookie },
      remoteAddress: freshIp(),
    });
  }

  const ask = (token: string) =>
    app.inject({
      method: 'POST',
      url: '/v1/requests',
      headers: { authorization: `Bearer ${token}` },
      payload: { resource: 'prod-db', role: 'admin', reason: 'INC-1' },
    });

  const profiles = () =>
    testStore.store.db.selectFrom('oidc_profiles').select(['user_id', 'groups', 'manager']).execute();

  it('creates a new person from the claims: id, manager and teams from groups make them eligible', async () => {
    idp.accountClaims.set('dana@example.com', {
      preferred_username: 'dana',
      name: 'Dana D.',
      manager: 'carol',
      groups: ['payments', 'on-call'],
    });
    const res = await cliSignIn('dana@example.com');
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().userId).toBe('dana');
    expect(module.directory.get('dana')).toEqual({
      id: 'dana',
      email: 'dana@example.com',
      name: 'Dana D.',
      manager: 'carol',
      teams: ['on-call', 'payments'],
      security: false,
      auditor: false,
      admin: false,
      onCall: true,
    });
    const token = res.json().token as string;
    const who = await app.inject({
      method: 'GET',
      url: '/v1/whoami',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(who.json()).toMatchObject({ userId: 'dana', manager: 'carol', roles: ['requester', 'on-call'] });

    const created = await ask(token);
    expect(created.statusCode, created.body).toBe(201);
    // Approved by the manager the claims named.
    expect(created.json()).toMatchObject({
      requester: 'dana',
      state: 'pending',
      eligibleApprovers: ['carol'],
    });
  });

  it('updates the facts at the next sign-in (portal): changed groups change the teams', async () => {
    idp.accountClaims.set('dana@example.com', {
      preferred_username: 'dana',
      manager: 'carol',
      groups: ['marketing'],
    });
    const res = await portalSignIn('dana@example.com');
    expect(res.statusCode, res.body).toBe(303);
    const session = res.cookies.find((c) => c.name === 'stint_session')?.value as string;
    expect(module.directory.get('dana')).toMatchObject({ teams: ['marketing'], onCall: false });

    const again = await cliSignIn('dana@example.com');
    const refused = await ask(again.json().token as string);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('NOT_ELIGIBLE');
    expect(session).toMatch(/^stints_/);
  });

  it('records the facts of a YAML person matched by email, which then describe them', async () => {
    idp.accountClaims.set('alice@example.com', { manager: 'carol', groups: ['payments'] });
    const res = await cliSignIn('alice@example.com');
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().userId).toBe('alice');
    expect(module.directory.get('alice')).toMatchObject({
      email: 'alice@example.com',
      name: 'Alice',
      manager: 'carol',
      teams: ['payments'],
    });
    expect((await ask(res.json().token as string)).statusCode).toBe(201);
  });

  it('refuses bad claim values clearly, and changes nothing', async () => {
    const before = await profiles();
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ['dana@example.com', { preferred_username: 'dana', groups: 'payments' }, 'CLAIMS_INVALID', /"groups"/],
      [
        'dana@example.com',
        { preferred_username: 'dana', groups: ['payments', 7] },
        'CLAIMS_INVALID',
        /"groups"/,
      ],
      [
        'dana@example.com',
        { preferred_username: 'dana', manager: 'Carol Lead' },
        'CLAIMS_INVALID',
        /"manager"/,
      ],
      [
        'erik@example.com',
        { preferred_username: 'Erik Smith', groups: [] },
        'CLAIMS_INVALID',
        /"preferred_username"/,
      ],
      ['erik@example.com', { groups: ['payments'] }, 'CLAIMS_INVALID', /"preferred_username"/],
      [
        'erik@example.com',
        { preferred_username: 'erik', email_verified: false },
        'CLAIMS_INVALID',
        /verified/,
      ],
      // Someone else's id with another email: taking it would sign this person in as carol.
      [
        'mallory@example.com',
        { preferred_username: 'carol', groups: ['payments'] },
        'UNKNOWN_IDENTITY',
        /carol/,
      ],
    ];
    for (const [email, claims, code, message] of cases) {
      idp.accountClaims.set(email, claims);
      const res = await cliSignIn(email);
      expect(res.statusCode, `${email} ${JSON.stringify(claims)}`).toBe(401);
      expect(res.json().error.code).toBe(code);
      expect(res.json().error.message).toMatch(message);
    }
    expect(await profiles()).toEqual(before);
    expect(module.directory.get('dana')).toMatchObject({ teams: ['marketing'] });
    expect(module.directory.get('erik')).toBeUndefined();
    expect(module.directory.get('carol')?.email).toBe('carol@example.com');
  });
});

describe('claims directory configuration', () => {
  it('is off by default, names the claims when on, and refuses claim names given while it is off', () => {
    expect(directoryConfigFromEnv({}).claims).toBeNull();
    expect(directoryConfigFromEnv({ STINT_OIDC_CLAIMS_DIRECTORY: '1' }).claims).toEqual({
      id: 'preferred_username',
      manager: 'manager',
      groups: 'groups',
    });
    expect(
      directoryConfigFromEnv({ STINT_OIDC_CLAIMS_DIRECTORY: 'true', STINT_OIDC_CLAIM_GROUPS: 'roles' }).claims
        ?.groups,
    ).toBe('roles');
    expect(() => directoryConfigFromEnv({ STINT_OIDC_CLAIM_ID: 'upn' })).toThrow(
      /STINT_OIDC_CLAIM_ID given without STINT_OIDC_CLAIMS_DIRECTORY=1/,
    );
    // Without a provider there are no claims: the identity configuration refuses it at boot.
    expect(() => loadIdentityConfig({ STINT_OIDC_CLAIMS_DIRECTORY: '1' })).toThrow(
      /without STINT_OIDC_ISSUER/,
    );
  });
});
