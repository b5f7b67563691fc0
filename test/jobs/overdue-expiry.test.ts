import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStint, type Stint } from '../../src/app/stint.js';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { silentLogger } from '../../src/logger.js';
import type { KindConfig, KindContext } from '../../src/providers/kind.js';
import { BUILTIN_KINDS } from '../../src/providers/kinds.js';
import type { CredentialProvider, RevokeRequest } from '../../src/providers/provider.js';
import { createKindRegistry, createProvider } from '../../src/providers/registry.js';
import { DEFAULT_TARGET_CONCURRENCY } from '../../src/providers/target-queue.js';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness } from '../support/harness.js';
import { waitFor } from '../support/pg-client.js';
import { connectAs } from '../support/pg-cluster.js';
import { STORE_KINDS } from '../support/stores.js';

const GRANTS = 100;
/** A target that takes this long per revoke, so calls that may overlap visibly do. */
const REVOKE_MS = 40;

/**
 * A restart finds many grants overdue at once (their windows ended while no server ran). They must all end, and
 * in parallel within a bound per target rather than one after another: one at a time, 40 overdue took 4–7 s.
 */
describe.each(STORE_KINDS)('overdue grants after a restart on %s', (kind) => {
  let h: Harness;
  let restarted: Stint | undefined;
  const inFlight = new Map<string, number>();
  const peak = new Map<string, number>();
  let batched = 0;
  const registry = createKindRegistry(
    BUILTIN_KINDS.map((k) =>
      k.kind === 'postgres'
        ? {
            ...k,
            create: (config: KindConfig & { resourceId: string }, ctx: KindContext) =>
              counted(config.resourceId, k.create(config, ctx)),
          }
        : k,
    ),
  );

  /**
   * The real provider under the wrapper (as the kind creates it), slowed a little, counting how many revoke calls
   * reach it at once per resource: the wrapper's admission and batching sit above it.
   */
  function counted(resourceId: string, provider: CredentialProvider): CredentialProvider {
    return new Proxy(provider, {
      get(target, prop, receiver) {
        if (prop !== 'revoke' && prop !== 'revokeMany') return Reflect.get(target, prop, receiver);
        const call = Reflect.get(target, prop, receiver) as (r: unknown, s: AbortSignal) => Promise<unknown>;
        return async (request: RevokeRequest | RevokeRequest[], signal: AbortSignal) => {
          if (prop === 'revokeMany') batched += (request as RevokeRequest[]).length;
          const now = (inFlight.get(resourceId) ?? 0) + 1;
          inFlight.set(resourceId, now);
          peak.set(resourceId, Math.max(peak.get(resourceId) ?? 0, now));
          try {
            await new Promise((r) => setTimeout(r, REVOKE_MS));
            return await call.call(target, request, signal);
          } finally {
            inFlight.set(resourceId, (inFlight.get(resourceId) ?? 1) - 1);
          }
        };
      },
    });
  }

  beforeAll(async () => {
    h = await createHarness(kind);
  }, 60_000);

  afterAll(async () => {
    await restarted?.stop();
    await h?.close();
  });

  it(`all ${GRANTS} grants overdue at restart are expired and revoked, in batches and bounded per target`, async () => {
    const ids: string[] = [];
    for (let batch = 0; batch < GRANTS / 10; batch++) {
      const created = await Promise.all(
        Array.from({ length: 10 }, () =>
          activeGrant(h, {
            resource: 'staging-db',
            role: 'read',
            reason: 'overdue at restart',
            duration: '30m',
          }),
        ),
      );
      ids.push(...created.map((c) => c.id));
    }
    // The server goes away with every grant live: no timer, no sweep, nothing ends them.
    await h.stint.stop();

    // It comes back after all their windows have ended (its clock says so; the target keeps real time).
    const later = () => new Date(Date.now() + 3_600_000);
    restarted = createStint({
      store: h.testStore.store,
      storeId: h.storeId,
      policy: h.stint.deps.policy,
      providerFactory: (r, owner) => createProvider(r, h.env, { owner }, registry),
      secrets: createSecretBox(Buffer.alloc(32, 7)),
      logger: silentLogger,
      clock: later,
      sweepIntervalMs: 200,
      audit: { signers: [h.auditSigner], checkpointDir: h.checkpointDir, checkpointIntervalMs: 200 },
    });
    await restarted.start();

    const db = h.testStore.store.db;
    const grants = await waitFor(async () => {
      const rows = await db
        .selectFrom('grants')
        .innerJoin('requests', 'requests.id', 'grants.request_id')
        .select(['grants.principal', 'grants.revocation', 'requests.state'])
        .where('grants.request_id', 'in', ids)
        .execute();
      return rows.length === GRANTS && rows.every((r) => r.revocation === 'done') ? rows : null;
    }, 60_000);
    expect(grants.every((g) => g.state === 'expired')).toBe(true);

    const target = await connectAs(h.env.STINT_TEST_DB_URL as string);
    try {
      const { rows } = await target.query('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [
        grants.map((g) => g.principal),
      ]);
      expect(rows).toEqual([]);
    } finally {
      await target.end();
    }
    // Not one at a time (that took seconds for a few dozen): most of them in batches, and never more calls at the
    // target at once than its admin pool (DEFAULT_TARGET_CONCURRENCY).
    expect(peak.get('staging-db')).toBeGreaterThanOrEqual(1);
    expect(peak.get('staging-db')).toBeLessThanOrEqual(DEFAULT_TARGET_CONCURRENCY);
    expect(batched).toBeGreaterThan(GRANTS / 2);
  }, 120_000);
});
