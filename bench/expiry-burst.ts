import { createProvider } from '../src/providers/registry.js';
import type { StoreKind } from '../test/support/stores.js';
import { buildBenchApp, expectStatus, untilActive } from './app.js';
import { type HeldSessions, holdSessions } from './hold-sessions.js';
import { REQUESTER, RESOURCE } from './policy.js';
import { round, runBounded, type Summary, sleep, summarize } from './stats.js';
import { createProviderTimes, timeProvider } from './timed-provider.js';

export interface ExpiryBurst {
  store: StoreKind;
  /** Grants whose windows end in the same instant. */
  grants: number;
  /** Of them, with an open SET ROLE session each (the bench cluster allows 200 connections). */
  sessions: number;
  /** The shared expiry instant → each session ended by the target (one never ended counts as the timeout). */
  sessionEnd: Summary;
  /** Sessions still open SESSION_END_TIMEOUT_MS after the instant. */
  sessionsNotEnded?: number;
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
/** A session not ended this long after the instant counts as not ended (null). */
const SESSION_END_TIMEOUT_MS = 10_000;

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
  const live: { id: string; url: string | null }[] = [];
  let held: HeldSessions | undefined;
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
      let url: string | null = null;
      if (seq < sessions) {
        const cred = await bench.post(REQUESTER, `/v1/requests/${view.id}/credentials`);
        expectStatus(cred, 200, 'credentials');
        url = cred.body.secret.url;
      }
      live.push({ id: view.id, url });
    });
    // Open in a process of their own, as users' sessions are: their disconnects are not the server's work.
    held = await holdSessions(
      live.flatMap((g) => (g.url ? [g.url] : [])),
      'app_read',
      LEAD_MS + SESSION_END_TIMEOUT_MS,
    );
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
    await sleep(at - Date.now());
    const ended = await held.ended;
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
      sessionEnd: summarize(ended.map((t) => (t ?? at + SESSION_END_TIMEOUT_MS) - at)),
      sessionsNotEnded: ended.filter((t) => t === null).length,
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
    held?.close();
    await bench.close();
  }
}
