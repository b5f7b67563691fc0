import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStint, type Stint } from '../../src/app/stint.js';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { silentLogger } from '../../src/logger.js';
import type { CredentialProvider, RevokeRequest } from '../../src/providers/provider.js';
import { createProvider } from '../../src/providers/registry.js';
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

  /** The real provider, slowed a little, counting how many revokes are in flight at once per resource. */
  function counted(resourceId: string, provider: CredentialProvider): CredentialProvider {
    return new Proxy(provider, {
      get(target, prop, receiver) {
        if (prop !== 'revoke') return Reflect.get(target, prop, receiver);
        return async (request: RevokeRequest, signal: AbortSignal) => {
          const now = (inFlight.get(resourceId) ?? 0) + 1;
          inFlight.set(resourceId, now);
          peak.set(resourceId, Math.max(peak.get(resourceId) ?? 0, now));
          try {
            await new Promise((r) => setTimeout(r, REVOKE_MS));
            return await target.revoke(request, signal);
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

  it(`all ${GRANTS} grants overdue at restart are expired and revoked, in parallel and bounded per target`, async () => {
    const ids: string[] = [];
    for (let batch = 0; batch < GRANTS / 10; batch++) {
      const created = await Promise.all(
        Array.from({ length: 10 }, () =>
          h.as('alice').postSettled('/v1/requests', {
            resource: 'staging-db',
            role: 'read',
            reason: 'overdue at restart',
            duration: '30m',
          }),
        ),
      );
      for (const c of created) {
        expect(c.body.state).toBe('active');
        ids.push(c.body.id);
      }
    }
    // The server goes away with every grant live: no timer, no sweep, nothing ends them.
    await h.stint.stop();

    // It comes back after all their windows have ended (its clock says so; the target keeps real time).
    const later = () => new Date(Date.now() + 3_600_000);
    restarted = createStint({
      store: h.testStore.store,
      storeId: h.storeId,
      policy: h.stint.deps.policy,
      providerFactory: (r, owner) => counted(r.id, createProvider(r, h.env, { owner })),
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
    // Parallel (one at a time took seconds for a few dozen), and never more than the per-target bound.
    expect(peak.get('staging-db')).toBeGreaterThan(1);
    expect(peak.get('staging-db')).toBeLessThanOrEqual(8);
  }, 120_000);
});
