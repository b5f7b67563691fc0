import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { inject } from 'vitest';
import { createPolicyHolder } from '../../src/app/policy-holder.js';
import { createStint, type Stint } from '../../src/app/stint.js';
import type { AuditWriter } from '../../src/audit/audit-writer.js';
import { type Ed25519NoteSigner, generateNoteKey, parseSkey } from '../../src/audit/log/signed-note.js';
import type { WitnessConfig } from '../../src/audit/witness/witness-config.js';
import type { BreakglassConfig } from '../../src/breakglass/breakglass-config.js';
import { createSecretBox, type SecretBox } from '../../src/crypto/secret-box.js';
import type { ScimRoutesDeps } from '../../src/directory/scim-routes.js';
import type { IdentityOptions } from '../../src/identity/identity-module.js';
import { type Logger, silentLogger } from '../../src/logger.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import type { AnyKind } from '../../src/providers/kind.js';
import { BUILTIN_KINDS } from '../../src/providers/kinds.js';
import type { ProviderFactory } from '../../src/providers/provider-set.js';
import { createKindRegistry, createProvider } from '../../src/providers/registry.js';
import type { RecordingConfig } from '../../src/recording/recording-config.js';
import { buildHttpApp } from '../../src/server/http-app.js';
import type { BuiltPortal } from '../../src/server/portal.js';
import { openDatabase } from '../../src/store/database.js';
import { readStoreId } from '../../src/store/store-identity.js';
import { stepUp } from './step-up.js';
import { createTestStore, type StoreKind, type TestStore } from './stores.js';
import { TEST_POLICY } from './test-policy.js';

export interface ApiResponse {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test responses are inspected field by field
  body: any;
}

export interface Harness {
  stint: Stint;
  app: FastifyInstance;
  testStore: TestStore;
  /** The audit log's signing key (its verifier is the trusted key) and WORM checkpoint folder. */
  auditSigner: Ed25519NoteSigner;
  checkpointDir: string;
  env: Record<string, string>;
  /** This harness's deployment name: what its provider marks on the roles it creates. */
  deployment: string;
  /** The store's own id, which ownership of target roles rests on. */
  storeId: string;
  tokens: Record<string, string>;
  as(user: string): {
    get(path: string): Promise<ApiResponse>;
    post(path: string, body?: unknown): Promise<ApiResponse>;
    /**
     * POST, and when the answer is a request left `approved` (an approval or auto-approval, whose issuance runs
     * after commit), wait until it is settled and answer the request as it is then, with the POST's status.
     */
    postSettled(path: string, body?: unknown): Promise<ApiResponse>;
  };
  /**
   * Waits until request `id` leaves `approved`: issuance runs after the approval commits (the outbox), so an
   * approve or auto-approved create answers `approved` and the grant becomes `active` (or `failed`) just after.
   */
  settled(id: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Polls the store until request `id` is in a state other than `approved`, or fails after `timeoutMs`. */
export async function settledIn(stint: Stint, id: string, timeoutMs = 20_000): Promise<void> {
  const { requests, store } = stint.deps;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = (await requests.get(store.db, id))?.state;
    if (state !== 'approved') return;
    if (Date.now() > deadline) throw new Error(`request ${id} still approved after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Another pool on a store a harness made: what a second server sharing that store has. */
function besideStore(other: TestStore): TestStore {
  const store = openDatabase(other.url);
  return { store, url: other.url, close: () => store.close() };
}

/** The admin URL of the scram-sha-256 test cluster, for Stint's least-privileged admin role. */
export function targetEnv(): Record<string, string> {
  const cluster = inject('pgCluster');
  return {
    STINT_TEST_DB_URL: cluster.stintAdminUrl,
    STINT_DOWN_DB_URL: `postgres://stint_admin:nope@127.0.0.1:1/app`,
  };
}

/** The real application (real store, real PostgreSQL provider, real HTTP layer via inject) on one store. */
export async function createHarness(
  kind: StoreKind,
  opts: {
    policy?: string;
    start?: boolean;
    sweepIntervalMs?: number;
    providerFactory?: ProviderFactory;
    env?: Record<string, string>;
    /** Sign-in configuration (OIDC, sessions, lock-out) for the HTTP app. */
    identity?: IdentityOptions;
    /** SCIM provisioning routes, given their service and authenticator. */
    scim?: (store: TestStore['store'], audit: AuditWriter) => ScimRoutesDeps;
    /** Step every user up with a second factor at the start (default), as approvers of critical access must. */
    stepUp?: boolean;
    /** The deployment name; by default one of its own (two harnesses given one name share it). */
    deployment?: string;
    /** Where the application logs (silent by default): tests that count alerts pass a recording one. */
    logger?: Logger;
    /** External witnesses each checkpoint is submitted to. */
    auditWitnesses?: readonly WitnessConfig[];
    /**
     * Serve the store of another harness through a pool of this one's own, as a second server sharing it would
     * (HA); closing this harness leaves that store to its maker.
     */
    beside?: TestStore;
    /** The key credentials and TOTP secrets are sealed with: servers sharing a store share it. */
    secrets?: SecretBox;
    /** The audit signing key (its leaf MACs too): servers sharing a store share it. */
    auditSigner?: Ed25519NoteSigner;
    /**
     * The WORM checkpoint folder of the harness whose store this one serves beside: servers sharing a store share
     * it (or a witness), or the second refuses to start. Left to its maker on close.
     */
    checkpointDir?: string;
    /** The application's clock (tests about expiry move it by hand); the wall clock by default. */
    clock?: () => Date;
    /** Target kinds besides the built-in ones (a test kind), handed in through the composition root. */
    kinds?: readonly AnyKind[];
    /** Break-glass's server settings (the offline record folder). */
    breakglass?: BreakglassConfig;
    /** A built portal served at / and its pages (src/server/portal.ts); none keeps the start page. */
    portal?: BuiltPortal | null;
    /** Session recording's settings (where the app's routes play recordings from); none: in the store, no proxy. */
    recording?: RecordingConfig;
  } = {},
): Promise<Harness> {
  const env = { ...targetEnv(), ...opts.env };
  const testStore = opts.beside ? besideStore(opts.beside) : await createTestStore(kind);
  // A deployment of its own, so this harness's reconciler never touches roles of test files running beside it.
  const deployment = opts.deployment ?? `test-${randomBytes(4).toString('hex')}`;
  const auditSigner = opts.auditSigner ?? parseSkey(generateNoteKey(`stint-test/${deployment}`).skey);
  const checkpointDir = opts.checkpointDir ?? mkdtempSync(join(tmpdir(), 'stint-checkpoints-'));
  const text = (opts.policy ?? TEST_POLICY).replace(/deployment: [\w-]+/, `deployment: ${deployment}`);
  const kinds = createKindRegistry([...BUILTIN_KINDS, ...(opts.kinds ?? [])]);
  const policy = createPolicyHolder(parsePolicy(text, 'test-policy.yaml', kinds.kinds), () =>
    parsePolicy(text, 'test-policy.yaml', kinds.kinds),
  );
  const storeId = await readStoreId(testStore.store.db);
  const stint = createStint({
    store: testStore.store,
    storeId,
    policy,
    providerFactory:
      opts.providerFactory ??
      ((r, owner, ctx) => createProvider(r, env, { owner, metrics: ctx.metrics }, kinds)),
    providerKinds: kinds,
    secrets: opts.secrets ?? createSecretBox(randomBytes(32)),
    logger: opts.logger ?? silentLogger,
    sweepIntervalMs: opts.sweepIntervalMs ?? 200,
    ...(opts.clock ? { clock: opts.clock } : {}),
    audit: {
      signers: [auditSigner],
      checkpointDir,
      checkpointIntervalMs: 200,
      ...(opts.auditWitnesses ? { witnesses: opts.auditWitnesses } : {}),
    },
    ...(opts.identity?.config ? { identity: opts.identity.config } : {}),
    ...(opts.breakglass ? { breakglass: opts.breakglass } : {}),
    ...(opts.recording ? { recording: opts.recording } : {}),
  });
  if (opts.start !== false) await stint.start();
  const app = await buildHttpApp(stint, {
    ...(opts.scim ? { scim: opts.scim(testStore.store, stint.audit.writer) } : {}),
    ...(opts.portal ? { portal: opts.portal } : {}),
  });
  const tokens: Record<string, string> = {};
  for (const user of policy.current().users.keys()) {
    tokens[user] = (await stint.identity.tokens.create(user, 'test', new Date())).token;
    if (opts.stepUp !== false) await stepUp(stint, user, tokens[user] as string);
  }
  const call = async (
    user: string,
    method: 'GET' | 'POST',
    url: string,
    body?: unknown,
  ): Promise<ApiResponse> => {
    const res = await app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${tokens[user] ?? 'none'}` },
      ...(body === undefined ? {} : { payload: body as object }),
    });
    return { status: res.statusCode, body: res.body ? res.json() : null };
  };
  return {
    stint,
    app,
    testStore,
    auditSigner,
    checkpointDir,
    env,
    deployment,
    storeId,
    tokens,
    as: (user) => ({
      get: (p) => call(user, 'GET', p),
      post: (p, b) => call(user, 'POST', p, b),
      async postSettled(p, b) {
        const res = await call(user, 'POST', p, b);
        if (res.status >= 300 || res.body?.state !== 'approved') return res;
        await settledIn(stint, res.body.id);
        const now = await call(user, 'GET', `/v1/requests/${res.body.id}`);
        return { status: res.status, body: now.body };
      },
    }),
    settled: (id, timeoutMs) => settledIn(stint, id, timeoutMs),
    async close() {
      await app.close();
      await stint.stop();
      await testStore.close();
      if (!opts.checkpointDir) rmSync(checkpointDir, { recursive: true, force: true });
    },
  };
}
