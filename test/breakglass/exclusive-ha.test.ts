import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bgDb } from '../../src/breakglass/breakglass-tables.js';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { createHarness, type Harness } from '../support/harness.js';
import { BREAKGLASS_POLICY, eventsOf } from './support.js';

/**
 * Two Stint servers sharing one PostgreSQL store (HA), each with its own pool: invocations racing on the same
 * resource, one from each server, at the same instant. Exactly one may win, every round.
 */
describe('break-glass is exclusive across two servers on one PostgreSQL store', () => {
  let one: Harness;
  let two: Harness;
  beforeAll(async () => {
    const secrets = createSecretBox(randomBytes(32));
    one = await createHarness('postgresql', { policy: BREAKGLASS_POLICY, secrets });
    two = await createHarness('postgresql', {
      policy: BREAKGLASS_POLICY,
      secrets,
      beside: one.testStore,
      auditSigner: one.auditSigner,
      checkpointDir: one.checkpointDir,
      deployment: one.deployment,
      // Every user's factor was enrolled through the first server; the second serves the same tokens.
      stepUp: false,
    });
    Object.assign(two.tokens, one.tokens);
  });
  afterAll(async () => {
    await two?.close();
    await one?.close();
  });

  it('two concurrent invocations: one holder, the other told who holds it; round after round', async () => {
    for (let round = 0; round < 4; round++) {
      const [a, b] = await Promise.all([
        one
          .as('alice')
          .post('/v1/breakglass', { resource: 'prod-db', role: 'read', reason: `INC-${round}a` }),
        two.as('bob').post('/v1/breakglass', { resource: 'prod-db', role: 'read', reason: `INC-${round}b` }),
      ]);
      const statuses = [a.status, b.status].sort();
      expect(statuses, JSON.stringify([a.body, b.body])).toEqual([201, 409]);
      const [won, lost] = a.status === 201 ? [a, b] : [b, a];
      const winner = a.status === 201 ? 'alice' : 'bob';
      expect(lost.body.error).toMatchObject({
        code: 'BREAKGLASS_HELD',
        details: { holder: winner, requestId: won.body.requestId },
      });
      const holders = await bgDb(one.testStore.store).selectFrom('breakglass_holders').selectAll().execute();
      expect(holders).toEqual([expect.objectContaining({ resource: 'prod-db', holder: winner })]);
      // Only the winner's request exists: the loser's transaction left nothing behind.
      const made = await one.testStore.store.db
        .selectFrom('requests')
        .select('id')
        .where('rule_id', '=', 'breakglass:prod-emergency')
        .where('state', 'in', ['approved', 'active'])
        .execute();
      expect(made.map((r) => r.id)).toEqual([won.body.requestId]);
      // The holder ends it on its own server; the other server's after-use sweep may release it.
      const end = await (winner === 'alice' ? one : two)
        .as(winner)
        .post(`/v1/requests/${won.body.requestId}/revoke`, {});
      expect(end.status).toBe(200);
      await (winner === 'alice' ? two : one).stint.sweep();
    }
    // Each loser reached the granting transaction (past its step-up) and was refused there, on the holder's key.
    const refused = (await eventsOf(one, 'breakglass.refused')).filter(
      (e) => e.details.code === 'BREAKGLASS_HELD',
    );
    expect(refused).toHaveLength(4);
  });
});
