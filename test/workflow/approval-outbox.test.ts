import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CredentialProvider } from '../../src/providers/provider.js';
import { createProvider } from '../../src/providers/registry.js';
import { createHarness, type Harness, targetEnv } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

/**
 * The target's issue call waits until released: a target that hangs. Everything else is the real provider, so
 * the credential issued once released is a real one.
 */
function hangingIssue(provider: CredentialProvider, released: Promise<void>, calls: { n: number }) {
  return new Proxy(provider, {
    get(target, key, receiver) {
      if (key !== 'issue') return Reflect.get(target, key, receiver);
      return async (...args: Parameters<CredentialProvider['issue']>) => {
        calls.n++;
        await released;
        return target.issue(...args);
      };
    },
  });
}

describe.each(STORE_KINDS)('approval is not held up by the target (%s)', (kind) => {
  let h: Harness;
  let release: () => void = () => {};
  const calls = { n: 0 };

  beforeAll(async () => {
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const env = targetEnv();
    h = await createHarness(kind, {
      providerFactory: (r, owner) => hangingIssue(createProvider(r, env, { owner }), released, calls),
    });
  });
  afterAll(async () => {
    release();
    await h?.close();
  });

  it('approving commits and answers while the target hangs; the grant becomes active once it answers', async () => {
    const created = await h.as('alice').post('/v1/requests', {
      resource: 'prod-db',
      role: 'admin',
      reason: 'INC-4821',
      duration: '1h',
    });
    expect(created.body.state).toBe('pending');
    const id: string = created.body.id;

    const began = Date.now();
    const approved = await h.as('carol').post(`/v1/requests/${id}/approve`, { comment: 'go ahead' });
    expect(approved.status).toBe(200);
    expect(approved.body.state).toBe('approved');
    // Committed, not merely answered: another reader sees the approval, and the target was already asked.
    expect((await h.as('alice').get(`/v1/requests/${id}`)).body.state).toBe('approved');
    expect(Date.now() - began).toBeLessThan(5_000);
    await expect.poll(() => calls.n).toBeGreaterThan(0);
    // Still hanging: nothing is active and no credential can be taken yet.
    const early = await h.as('alice').post(`/v1/requests/${id}/credentials`);
    expect(early.body.error?.code).toBe('CREDENTIAL_NOT_AVAILABLE');

    release();
    await h.settled(id);
    const after = await h.as('alice').get(`/v1/requests/${id}`);
    expect(after.body.state).toBe('active');
    const cred = await h.as('alice').post(`/v1/requests/${id}/credentials`);
    expect(cred.status).toBe(200);
    expect(cred.body.secret.url).toEqual(expect.any(String));
    const events = await h.as('alice').get(`/v1/audit/events?request=${id}`);
    const actions = events.body.events.map((e: { action: string }) => e.action);
    expect(actions.filter((a: string) => a === 'grant.activated')).toHaveLength(1);
    expect((await h.as('alice').post(`/v1/requests/${id}/revoke`, {})).body.revocation).toBe('done');
  });
});
