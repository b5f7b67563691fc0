import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryProvider } from '../../bench/memory-provider.js';
import { type CredentialProvider, cancelledError } from '../../src/providers/provider.js';
import { createHarness, type Harness } from '../support/harness.js';
import { waitFor } from '../support/pg-client.js';

/**
 * A target that accepts Stint's issue call and never answers (a hung admin connection, a firewall dropping
 * packets) must not hold a stopping server: after the grace the call is cut by the shutdown signal, and the
 * request is left as a crash would leave it (approved, resumed later), not failed.
 */
describe('stopping while a target hangs', () => {
  let h: Harness;
  const entered: AbortSignal[] = [];

  function hanging(): CredentialProvider {
    const memory = createMemoryProvider();
    return {
      ...memory,
      issue: (_request, signal) => {
        entered.push(signal);
        return new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(cancelledError('issue', signal)), { once: true });
        });
      },
    };
  }

  beforeAll(async () => {
    h = await createHarness('sqlite', { providerFactory: () => hanging() });
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  });

  it('cuts the hung issuance after the grace and leaves the request approved, not failed', async () => {
    const created = await h.as('alice').post('/v1/requests', {
      resource: 'staging-db',
      role: 'read',
      reason: 'hung target at shutdown',
    });
    expect(created.status).toBe(201);
    const id: string = created.body.id;
    await waitFor(async () => entered.length === 1, 10_000);
    const signal = entered[0] as AbortSignal;
    expect(signal.aborted).toBe(false);

    await h.stint.stop();

    expect(signal.aborted).toBe(true);
    const request = await h.stint.deps.requests.mustGet(h.testStore.store.db, id);
    expect(request.state).toBe('approved');
    const events = await h.testStore.store.db
      .selectFrom('audit_events')
      .select('action')
      .where('request_id', '=', id)
      .execute();
    expect(events.map((e) => e.action)).not.toContain('request.failed');
  }, 30_000);
});
