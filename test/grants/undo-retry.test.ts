import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryProvider } from '../../bench/memory-provider.js';
import { StintError } from '../../src/domain/errors.js';
import type { CredentialProvider } from '../../src/providers/provider.js';
import { createHarness, type Harness } from '../support/harness.js';
import { waitFor } from '../support/pg-client.js';

/**
 * A credential made on the target for a request that ended meanwhile is never recorded, so Stint must take it
 * back itself. When the first try fails (a busy or unreachable target), it keeps trying instead of leaving the
 * credential for the reconciler's next pass (a minute away, and slow through thousands).
 */
describe('undoing an unrecorded credential', () => {
  let h: Harness;
  const memory = createMemoryProvider();
  let release: () => void = () => {};
  let revokeCalls = 0;

  function provider(): CredentialProvider {
    return {
      ...memory,
      async issue(request, signal) {
        const issued = await memory.issue(request, signal);
        await new Promise<void>((r) => {
          release = r;
        });
        return issued;
      },
      async revoke(request, signal) {
        revokeCalls += 1;
        if (revokeCalls <= 2) throw new StintError('PROVIDER_ERROR', 'target busy', { class: 'transient' });
        return memory.revoke(request, signal);
      },
    };
  }

  beforeAll(async () => {
    h = await createHarness('sqlite', { providerFactory: () => provider() });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  it('retries in the background until the target takes it back', async () => {
    const created = await h.as('alice').post('/v1/requests', {
      resource: 'staging-db',
      role: 'read',
      reason: 'withdrawn while issuing',
    });
    expect(created.status).toBe(201);
    await waitFor(async () => memory.live === 1, 10_000);
    const withdrawn = await h.as('alice').post(`/v1/requests/${created.body.id}/withdraw`, {});
    expect(withdrawn.status).toBe(200);
    release();
    // Two failures, then the third try (after 0.25 s and 0.5 s) removes it.
    await waitFor(async () => memory.live === 0, 10_000);
    expect(revokeCalls).toBe(3);
    const grants = await h.testStore.store.db.selectFrom('grants').selectAll().execute();
    expect(grants).toEqual([]);
  }, 30_000);
});
