import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createPolicyHolder } from '../src/app/policy-holder.js';
import { createStint, type Stint, type StintOptions } from '../src/app/stint.js';
import { generateNoteKey, parseSkey } from '../src/audit/log/signed-note.js';
import { createSecretBox } from '../src/crypto/secret-box.js';
import { silentLogger } from '../src/logger.js';
import { parsePolicy } from '../src/policy/policy-loader.js';
import type { ProviderFactory } from '../src/providers/provider-set.js';
import { buildHttpApp } from '../src/server/http-app.js';
import { readStoreId } from '../src/store/store-identity.js';
import { createTestStore, type StoreKind, type TestStore } from '../test/support/stores.js';
import { createLoopbackClient, type LoopbackClient } from './loopback.js';
import { benchPolicy } from './policy.js';

export interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: API answers are read field by field, as the tests do
  body: any;
}

export interface BenchApp {
  stint: Stint;
  /** What the stint was built from: a second server on the same store (a restart) is built from these. */
  options: StintOptions;
  app: FastifyInstance;
  testStore: TestStore;
  /** `headers` beside the token, e.g. `prefer: wait=20` as the CLI sends with an approval. */
  post(user: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
  get(user: string, path: string): Promise<Reply>;
  close(): Promise<void>;
}

/**
 * The real application, wired as src/server/start.ts wires it (policy, store, jobs started, HTTP via inject),
 * on a fresh store, with the provider factory the figure asks for. Logging is off: pino writing to a pipe
 * would be measured too.
 */
export async function buildBenchApp(
  kind: StoreKind,
  providerFactory: (deployment: string) => ProviderFactory,
  opts: {
    sweepIntervalMs?: number;
    /** Another policy than benchPolicy()'s (bench/ops.ts adds an auditor). */
    policy?: string;
    /** Calls go through real HTTP on loopback (kept-alive connections) instead of app.inject. */
    listen?: { connections: number };
  } = {},
): Promise<BenchApp> {
  const testStore = await createTestStore(kind);
  const text = opts.policy ?? benchPolicy();
  const policy = createPolicyHolder(parsePolicy(text, 'bench-policy.yaml'), () =>
    parsePolicy(text, 'bench-policy.yaml'),
  );
  const deployment = policy.current().settings.deployment;
  const checkpointDir = mkdtempSync(join(tmpdir(), 'stint-bench-checkpoints-'));
  const options: StintOptions = {
    store: testStore.store,
    storeId: await readStoreId(testStore.store.db),
    policy,
    providerFactory: providerFactory(deployment),
    secrets: createSecretBox(randomBytes(32)),
    logger: silentLogger,
    // The server's default (STINT_SWEEP_INTERVAL_MS unset): the sweeper runs beside the work being measured.
    sweepIntervalMs: opts.sweepIntervalMs ?? 500,
    // As start.ts configures it: one signing key, a checkpoint folder, the default checkpoint interval.
    audit: { signers: [parseSkey(generateNoteKey(`stint-bench/${deployment}`).skey)], checkpointDir },
  };
  const stint = createStint(options);
  await stint.start();
  const app = await buildHttpApp(stint);
  const tokens = new Map<string, string>();
  for (const user of policy.current().users.keys()) {
    tokens.set(user, (await stint.identity.tokens.create(user, 'bench', new Date())).token);
  }
  let client: LoopbackClient | undefined;
  if (opts.listen) {
    client = createLoopbackClient(await app.listen({ port: 0, host: '127.0.0.1' }), opts.listen.connections);
  }
  const call = async (
    user: string,
    method: 'GET' | 'POST',
    url: string,
    body?: unknown,
    extra?: Record<string, string>,
  ): Promise<Reply> => {
    const headers = { ...extra, authorization: `Bearer ${tokens.get(user) ?? 'none'}` };
    if (client) return client.call(method, url, headers, body);
    const res = await app.inject({
      method,
      url,
      headers,
      ...(body === undefined ? {} : { payload: body as object }),
    });
    return { status: res.statusCode, body: res.body ? res.json() : null };
  };
  return {
    stint,
    options,
    app,
    testStore,
    post: (user, path, body, headers) => call(user, 'POST', path, body, headers),
    get: (user, path) => call(user, 'GET', path),
    async close() {
      client?.close();
      await app.close();
      await stint.stop();
      await testStore.close();
      rmSync(checkpointDir, { recursive: true, force: true });
    },
  };
}

/** Throws with the API's error code when a call did not answer as expected: a broken run must not yield figures. */
export function expectStatus(reply: Reply, status: number, what: string): void {
  if (reply.status !== status) {
    const code = reply.body?.error?.code ?? 'no code';
    const message = reply.body?.error?.message ?? JSON.stringify(reply.body);
    throw new Error(`${what}: expected HTTP ${status}, got ${reply.status} ${code}: ${message}`);
  }
}

/**
 * The request once active. An approve (or an auto-approved create) answers `approved` as soon as the approval
 * commits, and issuance runs after commit (the outbox), so this polls until the grant is live: the figure ends
 * at activation, as the CLI's default wait does. `raced` says the answer came before activation.
 */
export async function untilActive(
  bench: BenchApp,
  user: string,
  reply: Reply,
  // biome-ignore lint/suspicious/noExplicitAny: the API's request view, read field by field
): Promise<{ view: any; raced: boolean }> {
  if (reply.body?.state === 'active') return { view: reply.body, raced: false };
  if (reply.body?.state !== 'approved') throw new Error(`request ${reply.body?.id} is ${reply.body?.state}`);
  const until = Date.now() + 10_000;
  for (;;) {
    const now = await bench.get(user, `/v1/requests/${reply.body.id}`);
    if (now.body?.state === 'active') return { view: now.body, raced: true };
    if (now.body?.state !== 'approved' || Date.now() > until) {
      throw new Error(`request ${reply.body.id} did not become active (${now.body?.state})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
