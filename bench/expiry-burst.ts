import pg from 'pg';
import { createProvider } from '../src/providers/registry.js';
import type { StoreKind } from '../test/support/stores.js';
import { buildBenchApp, expectStatus, untilActive } from './app.js';
import { REQUESTER, RESOURCE } from './policy.js';
import { sessionEnd } from './revocation-lag.js';
import { round, runBounded, type Summary, sleep, summarize } from './stats.js';
import { createProviderTimes, timeProvider } from './timed-provider.js';

export interface ExpiryBurst {
  store: StoreKind;
  /** Grants whose windows end in the same instant. */
  grants: number;
  /** Of them, with an open SET ROLE session each (the bench cluster allows 200 connections). */
  sessions: number;
  /** The shared expiry instant → each session ended by the target. */
  sessionEnd: Summary;
  /** The shared expiry instant → each grant's revocation recorded done in the store. */
  revoked: Summary;
  /** The shared expiry instant → provider.revoke() called. */
  revokeCalled: Summary;
  /** How long each provider.revoke() took (its wait for a slot at the target included). */
  revokeMs: Summary;
  notRevoked: number;
}

const SETUP_CONCURRENCY = 10;
/** How far ahead of the end of set-up the shared instant is put: the sweep re-arms every timer for it. */
const LEAD_MS = 3_000;

/**
 * 500 grants expiring in the same second: each goes live through the API; their windows are then moved in the
 * store to one instant a few seconds ahead (as if they had all been approved for the same end), the sweep
 * re-arms their timers, and at that instant every expiry is due at once on one target.
 */
export async function measureExpiryBurst(
  kind: StoreKind,
  targetEnv: Record<string, string>,
  grants: number,
  sessions: number,
): Promise<ExpiryBurst> {
  const times = createProviderTimes();
  const bench = await buildBenchApp(
    kind,
    () => (resource, owner) => timeProvider(createProvider(resource, targetEnv, { owner }), times),
    { sweepIntervalMs: 200 },
  );
  const live: { id: string; client: pg.Client | null; ended: Promise<number | null> }[] = [];
  try {
    await runBounded(grants, SETUP_CONCURRENCY, async (seq) => {
      const created = await bench.post(REQUESTER, '/v1/requests', {
        resource: RESOURCE,
        role: 'read',
        reason: `bench burst ${seq}`,
        duration: '1h',
      });
      expectStatus(created, 201, 'create');
      const { view } = await untilActive(bench, REQUESTER, created);
      let client: pg.Client | null = null;
      if (seq < sessions) {
        const cred = await bench.post(REQUESTER, `/v1/requests/${view.id}/credentials`);
        expectStatus(cred, 200, 'credentials');
        client = new pg.Client({ connectionString: cred.body.secret.url, connectionTimeoutMillis: 5000 });
        client.on('error', () => {});
        await client.connect();
        await client.query('SET ROLE app_read');
      }
      live.push({ id: view.id, client, ended: Promise.resolve(null) });
    });
    const at = Date.now() + LEAD_MS;
    await bench.testStore.store.db
      .updateTable('requests')
      .set({ expires_at: at })
      .where(
        'id',
        'in',
        live.map((g) => g.id),
      )
      .execute();
    for (const g of live) if (g.client) g.ended = sessionEnd(g.client);
    await sleep(at - Date.now());
    const ended = await Promise.all(live.map((g) => g.ended));
    // Revocations done: read until all are, or 60 s.
    const ids = live.map((g) => g.id);
    let rows: { request_id: string; revoked_at: number | null; principal: string }[] = [];
    for (const stop = Date.now() + 60_000; Date.now() < stop; await sleep(100)) {
      rows = await bench.testStore.store.db
        .selectFrom('grants')
        .select(['request_id', 'revoked_at', 'principal'])
        .where('request_id', 'in', ids)
        .execute();
      if (rows.every((r) => r.revoked_at !== null)) break;
    }
    return {
      store: kind,
      grants,
      sessions: Math.min(sessions, grants),
      sessionEnd: summarize(ended.filter((t): t is number => t !== null).map((t) => t - at)),
      revoked: summarize(rows.filter((r) => r.revoked_at !== null).map((r) => (r.revoked_at as number) - at)),
      revokeCalled: summarize(
        rows
          .map((r) => times.revokeCalledAt.get(r.principal))
          .filter((t): t is number => t !== undefined)
          .map((t) => round(t - at, 0)),
      ),
      revokeMs: summarize([...times.revokeMs.values()].map((v) => round(v, 0))),
      notRevoked: rows.filter((r) => r.revoked_at === null).length,
    };
  } finally {
    await Promise.all(live.map((g) => g.client?.end().catch(() => {})));
    await bench.close();
  }
}
