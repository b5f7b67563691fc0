import pg from 'pg';
import { createStint, type Stint } from '../src/app/stint.js';
import { createProvider } from '../src/providers/registry.js';
import type { StoreKind } from '../test/support/stores.js';
import { buildBenchApp, expectStatus, untilActive } from './app.js';
import { REQUESTER, RESOURCE } from './policy.js';
import { sessionEnd } from './revocation-lag.js';
import { round, runBounded, type Summary, sleep, summarize } from './stats.js';
import { createProviderTimes, timeProvider } from './timed-provider.js';

export interface RestartLag {
  store: StoreKind;
  /** Grants whose window ended while no server ran, each with an open SET ROLE session. */
  overdue: number;
  /** Session end seen by the client − the instant the new server began starting (every grant was overdue then). */
  lag: Summary;
  /** The new server's start → provider.revoke() called for that grant. */
  untilRevokeCalled: Summary;
  /** The new server's start() (reconcile, then the first sweep) took this long. */
  startMs: number;
  /** Sessions still open 10 s after the restart, and requests not `expired` at the end: both must be 0. */
  neverEnded: number;
  notExpired: number;
}

/** Long enough for the setup of every grant and session even on a loaded machine; checked below. */
const WINDOW_S = 10;
const SETUP_CONCURRENCY = 10;

/**
 * Revocation lag after a restart: `overdue` grants go live with an open SET ROLE session each, the server stops
 * (no timer, no sweep: as a crash leaves it), their windows end, and a new server starts on the same store. Every
 * grant is overdue at that instant; the figure is how long each session then lives on.
 */
export async function measureRestartLag(
  kind: StoreKind,
  targetEnv: Record<string, string>,
  overdue: number,
): Promise<RestartLag> {
  const bench = await buildBenchApp(
    kind,
    () => (resource, owner) => createProvider(resource, targetEnv, { owner }),
  );
  const sessions: { id: string; principal: string; client: pg.Client; ended: Promise<number | null> }[] = [];
  let restarted: Stint | undefined;
  try {
    let earliestExpiry = Number.POSITIVE_INFINITY;
    let latestExpiry = 0;
    await runBounded(overdue, SETUP_CONCURRENCY, async (seq) => {
      const created = await bench.post(REQUESTER, '/v1/requests', {
        resource: RESOURCE,
        role: 'read',
        reason: `bench restart ${seq}`,
        duration: `${WINDOW_S}s`,
      });
      expectStatus(created, 201, 'create');
      const { view } = await untilActive(bench, REQUESTER, created);
      const expiresAt = Date.parse(view.expiresAt);
      earliestExpiry = Math.min(earliestExpiry, expiresAt);
      latestExpiry = Math.max(latestExpiry, expiresAt);
      const cred = await bench.post(REQUESTER, `/v1/requests/${view.id}/credentials`);
      expectStatus(cred, 200, 'credentials');
      const client = new pg.Client({ connectionString: cred.body.secret.url, connectionTimeoutMillis: 5000 });
      client.on('error', () => {});
      await client.connect();
      await client.query('SET ROLE app_read');
      sessions.push({ id: view.id, principal: cred.body.principal, client, ended: Promise.resolve(null) });
    });

    await bench.stint.stop();
    if (Date.now() >= earliestExpiry) {
      throw new Error(`setting up ${overdue} grants took longer than their ${WINDOW_S} s window`);
    }
    await sleep(latestExpiry - Date.now() + 100);

    const times = createProviderTimes();
    restarted = createStint({
      ...bench.options,
      providerFactory: (resource, owner) =>
        timeProvider(createProvider(resource, targetEnv, { owner }), times),
    });
    // Watched from here: a session that ended before the restart never reports, and counts as never ended.
    for (const s of sessions) s.ended = sessionEnd(s.client);
    const restartAt = Date.now();
    await restarted.start();
    const startMs = Date.now() - restartAt;

    const ended = await Promise.all(sessions.map((s) => s.ended));
    const lag = ended.filter((t): t is number => t !== null).map((t) => t - restartAt);
    const untilRevoke = sessions
      .map((s) => times.revokeCalledAt.get(s.principal))
      .filter((t): t is number => t !== undefined)
      .map((t) => t - restartAt);
    await restarted.sweep();
    const states = await bench.testStore.store.db
      .selectFrom('requests')
      .select('state')
      .where(
        'id',
        'in',
        sessions.map((s) => s.id),
      )
      .execute();
    return {
      store: kind,
      overdue,
      lag: summarize(lag),
      untilRevokeCalled: summarize(untilRevoke),
      startMs: round(startMs),
      neverEnded: ended.filter((t) => t === null).length,
      notExpired: states.filter((r) => r.state !== 'expired').length,
    };
  } finally {
    await restarted?.stop();
    await Promise.all(sessions.map((s) => s.client.end().catch(() => {})));
    await bench.close();
  }
}
