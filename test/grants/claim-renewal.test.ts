import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryProvider } from '../../bench/memory-provider.js';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { CLAIM_MS } from '../../src/grants/claim.js';
import type { CredentialProvider } from '../../src/providers/provider.js';
import { createHarness, type Harness } from '../support/harness.js';
import { waitFor } from '../support/pg-client.js';

/**
 * Two servers on one PostgreSQL store. The issuance claim is short (CLAIM_MS) so a dead server's issuance is
 * taken over within seconds; a live server whose target call runs longer than the claim keeps it by renewing,
 * and the other server never starts a second issuance of the same request (which would race the first on the
 * target's one principal for that request).
 */
describe('an issuance claim is renewed while the target call runs', () => {
  let one: Harness;
  let two: Harness;
  const issuedBy = { one: [] as string[], two: [] as string[] };
  const slowMs = CLAIM_MS * 2 + 500;

  function provider(server: 'one' | 'two', delayMs: number): CredentialProvider {
    const memory = createMemoryProvider();
    return {
      ...memory,
      async issue(request, signal) {
        issuedBy[server].push(request.requestId);
        await new Promise((r) => setTimeout(r, delayMs));
        return memory.issue(request, signal);
      },
    };
  }

  beforeAll(async () => {
    const secrets = createSecretBox(randomBytes(32));
    one = await createHarness('postgresql', {
      secrets,
      sweepIntervalMs: 100,
      providerFactory: () => provider('one', slowMs),
    });
    two = await createHarness('postgresql', {
      secrets,
      sweepIntervalMs: 100,
      beside: one.testStore,
      auditSigner: one.auditSigner,
      checkpointDir: one.checkpointDir,
      deployment: one.deployment,
      stepUp: false,
      providerFactory: () => provider('two', 0),
    });
    Object.assign(two.tokens, one.tokens);
  }, 60_000);

  afterAll(async () => {
    await two?.close();
    await one?.close();
  });

  it('a target call twice as long as the claim is not taken over by the other server', async () => {
    const created = await one.as('alice').post('/v1/requests', {
      resource: 'staging-db',
      role: 'read',
      reason: 'slow target, claim renewed',
    });
    expect(created.status).toBe(201);
    const id: string = created.body.id;
    await waitFor(
      async () => (await one.as('alice').get(`/v1/requests/${id}`)).body.state === 'active',
      20_000,
    );
    expect(issuedBy.one).toEqual([id]);
    // Without renewal the claim lapses after CLAIM_MS and the other server's sweeper (every 100 ms) issues too.
    expect(issuedBy.two).toEqual([]);
    const grants = await one.testStore.store.db
      .selectFrom('grants')
      .select('request_id')
      .where('request_id', '=', id)
      .execute();
    expect(grants).toHaveLength(1);
  }, 30_000);
});
