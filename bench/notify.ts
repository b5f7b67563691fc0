/**
 * Notification figures, for `npm run bench` (the lead wires `measureNotify` into bench/run.ts):
 *
 *   a. alert latency: from an alerting audit event committed (`alert: true`, shaped as break-glass records
 *      `breakglass.invoked`) to a local Standard Webhooks receiver holding it, signature checked; p50/p99. The
 *      notifier runs on the server's default sweep tick (500 ms), so the tick's phase is most of the figure.
 *   b. throughput with one slow receiver beside fast ones: N events routed to three fast webhook channels and
 *      one whose receiver takes 2 s per message; how fast the fast channels get everything, and how far the
 *      slow one got meanwhile (its own concurrency, nothing else, is what it holds up).
 *
 * `npx tsx bench/notify.ts [--store=sqlite|postgresql] [--samples=100] [--events=500]` prints the figures.
 * It is a benchmark, not a test: it asserts nothing about the numbers.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { createPolicyHolder } from '../src/app/policy-holder.js';
import { createStint, type Stint } from '../src/app/stint.js';
import { generateNoteKey, parseSkey } from '../src/audit/log/signed-note.js';
import { createSecretBox } from '../src/crypto/secret-box.js';
import { silentLogger } from '../src/logger.js';
import { parsePolicy } from '../src/policy/policy-loader.js';
import type { ProviderFactory } from '../src/providers/provider-set.js';
import { createProvider } from '../src/providers/registry.js';
import { readStoreId } from '../src/store/store-identity.js';
import { createTestStore, type StoreKind, type TestStore } from '../test/support/stores.js';
import { benchPolicy } from './policy.js';
import { round, type Summary, sleep, summarize } from './stats.js';

export interface NotifyFigures {
  store: StoreKind;
  sweepIntervalMs: number;
  /** Alert committed → webhook received (ms). */
  alertLatency: Summary;
  throughput: {
    events: number;
    fastChannels: number;
    /** Deliveries per second over all fast channels, until each had every event. */
    fastDeliveriesPerSecond: number;
    /** Until the last fast channel had every event. */
    fastSeconds: number;
    /** How many the slow channel had received by then, and how many it had in flight (its concurrency). */
    slowReceived: number;
    slowInFlight: number;
    slowDelayMs: number;
  };
  notes: string[];
}

export interface Receiver {
  url: string;
  /** Event ids received (signature verified), with when. */
  got: Map<string, number>;
  close(): Promise<void>;
}

/** A local webhook receiver that verifies each signature and notes the event id it carries. */
export async function startReceiver(secret: string, delayMs = 0): Promise<Receiver> {
  const wh = new Webhook(secret);
  const got = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      text += c;
    });
    req.on('end', () => {
      const at = performance.now();
      const finish = () => {
        try {
          const body = wh.verify(text, req.headers as Record<string, string>) as { event: { id: string } };
          if (!got.has(body.event.id)) got.set(body.event.id, at);
          res.writeHead(204).end();
        } catch {
          res.writeHead(400).end();
        }
      };
      if (delayMs > 0) setTimeout(finish, delayMs);
      else finish();
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    got,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export async function buildStint(
  kind: StoreKind,
  notifications: string,
  env: Record<string, string>,
  sweepIntervalMs: number,
  /** Appended to the bench policy before `notifications:` (a break-glass block). */
  extraPolicy = '',
  providerFactory?: ProviderFactory,
): Promise<{ stint: Stint; testStore: TestStore; close(): Promise<void> }> {
  const testStore = await createTestStore(kind);
  const text = `${benchPolicy().trimEnd()}\n${extraPolicy}notifications:\n${notifications}`;
  const policy = createPolicyHolder(parsePolicy(text, 'bench-notify.yaml'), () =>
    parsePolicy(text, 'bench-notify.yaml'),
  );
  const deployment = policy.current().settings.deployment;
  const checkpointDir = mkdtempSync(join(tmpdir(), 'stint-bench-notify-'));
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
  const stint = createStint({
    store: testStore.store,
    storeId: await readStoreId(testStore.store.db),
    policy,
    // No grant is issued by the notifier's own figures: the provider is never called there.
    providerFactory: providerFactory ?? ((r, owner) => createProvider(r, {}, { owner })),
    secrets: createSecretBox(randomBytes(32)),
    logger: silentLogger,
    sweepIntervalMs,
    audit: { signers: [parseSkey(generateNoteKey(`stint-bench/${deployment}`).skey)], checkpointDir },
  });
  await stint.start();
  return {
    stint,
    testStore,
    async close() {
      await stint.stop();
      await testStore.close();
      rmSync(checkpointDir, { recursive: true, force: true });
    },
  };
}

/** Appends one event as a capability does (its own transaction) and answers its id once committed. */
async function commitAlert(stint: Stint, i: number): Promise<{ id: string; committedAt: number }> {
  await stint.audit.writer.append(stint.deps.store.db, {
    at: new Date(),
    actor: 'dave',
    action: 'breakglass.invoked',
    requestId: null,
    details: {
      resource: 'bench-db',
      role: 'admin',
      holder: 'dave',
      reason: `bench ${i}`,
      channels: [],
      alert: true,
      notify: ['security'],
    },
  });
  const committedAt = performance.now();
  const [event] = await stint.deps.store.db
    .selectFrom('audit_events')
    .select('id')
    .orderBy('seq', 'desc')
    .limit(1)
    .execute();
  return { id: event?.id as string, committedAt };
}

async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(1);
  }
}

export async function measureNotify(
  opts: { store?: StoreKind; samples?: number; events?: number; sweepIntervalMs?: number } = {},
): Promise<NotifyFigures> {
  const kind = opts.store ?? 'sqlite';
  const samples = opts.samples ?? 100;
  const events = opts.events ?? 500;
  // The server's default (STINT_SWEEP_INTERVAL_MS unset).
  const sweepIntervalMs = opts.sweepIntervalMs ?? 500;
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const envName = `STINT_BENCH_NOTIFY_${randomBytes(3).toString('hex').toUpperCase()}`;
  const hook = (url: string, extra = '') =>
    `{ kind: webhook, url: '${url}', secret: { env: ${envName} }${extra} }`;

  // a. latency
  const alertHook = await startReceiver(secret);
  const a = await buildStint(
    kind,
    `  channels:\n    security-hook: ${hook(alertHook.url)}\n  routes:\n    - { audience: security, channels: [security-hook] }\n`,
    { [envName]: secret },
    sweepIntervalMs,
  );
  const latencies: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      // A random pause, so events land at every phase of the sweep tick, as real ones do.
      await sleep(Math.random() * sweepIntervalMs);
      const { id, committedAt } = await commitAlert(a.stint, i);
      await until(() => alertHook.got.has(id), 10_000, `alert ${i}`);
      latencies.push((alertHook.got.get(id) as number) - committedAt);
    }
  } finally {
    await a.close();
    await alertHook.close();
  }

  // b. throughput with one slow receiver
  const slowDelayMs = 2_000;
  const fast = await Promise.all([0, 1, 2].map(() => startReceiver(secret)));
  const slow = await startReceiver(secret, slowDelayMs);
  const channels = [
    ...fast.map((r, i) => `    fast-${i}: ${hook(r.url)}`),
    `    slow: ${hook(slow.url, ', timeout: 5s')}`,
  ].join('\n');
  const b = await buildStint(
    kind,
    `  channels:\n${channels}\n  routes:\n    - { events: [bench.event], channels: [fast-0, fast-1, fast-2, slow] }\n`,
    { [envName]: secret },
    sweepIntervalMs,
  );
  let throughput: NotifyFigures['throughput'];
  try {
    const ids: string[] = [];
    const started = performance.now();
    for (let i = 0; i < events; i += 50) {
      const batch = Array.from({ length: Math.min(50, events - i) }, (_, j) => ({
        at: new Date(),
        actor: 'stint',
        action: 'bench.event',
        requestId: null,
        details: { i: i + j },
      }));
      await b.stint.audit.writer.append(b.stint.deps.store.db, batch);
    }
    const rows = await b.stint.deps.store.db
      .selectFrom('audit_events')
      .select('id')
      .where('action', '=', 'bench.event')
      .execute();
    for (const r of rows) ids.push(r.id);
    await until(() => fast.every((r) => ids.every((id) => r.got.has(id))), 120_000, 'fast channels');
    const seconds = (performance.now() - started) / 1000;
    throughput = {
      events,
      fastChannels: fast.length,
      fastDeliveriesPerSecond: round((events * fast.length) / seconds),
      fastSeconds: round(seconds, 2),
      slowReceived: ids.filter((id) => slow.got.has(id)).length,
      slowInFlight: b.stint.notify.dispatcher.inFlight().get('slow') ?? 0,
      slowDelayMs,
    };
  } finally {
    await b.close();
    await Promise.all([...fast, slow].map((r) => r.close()));
  }

  return {
    store: kind,
    sweepIntervalMs,
    alertLatency: summarize(latencies),
    throughput,
    notes: [
      `alert latency: ${samples} events with alert: true, routed to security's webhook; from the append's commit to the receiver holding it (signature verified)`,
      `the notifier wakes on the sweep tick (${sweepIntervalMs} ms): a tick's phase is most of the figure`,
      `throughput: ${events} events to 3 fast channels and 1 whose receiver takes ${slowDelayMs} ms per message (4 in flight per channel per server, the default)`,
    ],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const figures = await measureNotify({
    store: (arg('store') as StoreKind | undefined) ?? 'sqlite',
    ...(arg('samples') ? { samples: Number(arg('samples')) } : {}),
    ...(arg('events') ? { events: Number(arg('events')) } : {}),
  });
  console.log(JSON.stringify(figures, null, 2));
}
