/**
 * Run in a child process by soak.ts, so the RSS sampled is the server's alone: the real app (SQLite or PostgreSQL
 * store) with the real PostgreSQL provider against the bench's scram cluster, on real HTTP. The parent drives it
 * and reads its RSS from /proc; this process answers where it listens, and at the end what it left behind.
 */
import type { CredentialProvider } from '../src/providers/provider.js';
import { createProvider } from '../src/providers/registry.js';
import type { StoreKind } from '../test/support/stores.js';
import { buildBenchApp } from './app.js';
import { MANAGER, REQUESTER, TARGET_ENV } from './policy.js';
import { sleep } from './stats.js';

export interface SoakHello {
  type: 'hello';
  url: string;
  tokens: Record<string, string>;
}

export interface SoakSettled {
  type: 'settled';
  /** Requests by state once the run has settled. */
  states: Record<string, number>;
  /** Principals this store still owns on the target when it settled (or gave up after `settleLimitMs`). */
  leftOnTarget: number;
  /** From the finish message to no principal left. */
  settleMs: number;
}

const SETTLE_LIMIT_MS = 120_000;

async function main(): Promise<void> {
  const store = (process.argv[2] ?? 'sqlite') as StoreKind;
  const env = { [TARGET_ENV]: process.env[TARGET_ENV] ?? '' };
  let provider: CredentialProvider | undefined;
  const bench = await buildBenchApp(
    store,
    () => (resource, owner) => {
      provider = createProvider(resource, env, { owner });
      return provider;
    },
    { listen: { connections: 1 } },
  );
  const url = bench.app.server.address();
  if (!url || typeof url === 'string') throw new Error('the soak server is not listening on a port');
  const tokens: Record<string, string> = {};
  for (const user of [REQUESTER, MANAGER]) {
    tokens[user] = (await bench.stint.identity.tokens.create(user, 'soak', new Date())).token;
  }
  process.send?.({ type: 'hello', url: `http://127.0.0.1:${url.port}`, tokens } satisfies SoakHello);

  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  const finishAt = Date.now();
  const owned = async () =>
    provider ? (await provider.listOwned({}, AbortSignal.timeout(30_000))).principals.length : 0;
  let left = await owned();
  while (left > 0 && Date.now() - finishAt < SETTLE_LIMIT_MS) {
    await sleep(250);
    left = await owned();
  }
  const settleMs = Date.now() - finishAt;
  const rows = await bench.testStore.store.db
    .selectFrom('requests')
    .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('state')
    .execute();
  const states = Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  process.send?.({ type: 'settled', states, leftOnTarget: left, settleMs } satisfies SoakSettled);
  await bench.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`soak child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
