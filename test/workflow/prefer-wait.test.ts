import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_WAIT_SECONDS, preferredWaitMs } from '../../src/http/prefer-wait.js';
import type { CredentialProvider } from '../../src/providers/provider.js';
import { createProvider } from '../../src/providers/registry.js';
import { createHarness, type Harness, targetEnv } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

/** The target's issue call waits for the gate open at the time of the call: a target as slow as the test likes. */
function gatedIssue(provider: CredentialProvider, gate: { open: Promise<void> }) {
  return new Proxy(provider, {
    get(target, key, receiver) {
      if (key !== 'issue') return Reflect.get(target, key, receiver);
      return async (...args: Parameters<CredentialProvider['issue']>) => {
        await gate.open;
        return target.issue(...args);
      };
    },
  });
}

describe('Prefer: wait, as RFC 7240 spells it', () => {
  it('reads delta-seconds, capped, and ignores what it does not understand', () => {
    expect(preferredWaitMs('wait=5')).toBe(5000);
    expect(preferredWaitMs('respond-async, wait=3')).toBe(3000);
    expect(preferredWaitMs('Wait="2"; foo=bar')).toBe(2000);
    expect(preferredWaitMs(['return=minimal', 'wait=1'])).toBe(1000);
    expect(preferredWaitMs('wait=100000')).toBe(MAX_WAIT_SECONDS * 1000);
    for (const ignored of [undefined, '', 'wait', 'wait=', 'wait=-1', 'wait=1.5', 'wait=soon', 'waits=3']) {
      expect(preferredWaitMs(ignored)).toBe(0);
    }
  });
});

describe.each(STORE_KINDS)('an approval that asks to wait for its credential (%s)', (kind) => {
  let h: Harness;
  const gate = { open: Promise.resolve() };
  let release: () => void = () => {};
  const hold = () => {
    gate.open = new Promise<void>((resolve) => {
      release = resolve;
    });
  };

  beforeAll(async () => {
    const env = targetEnv();
    h = await createHarness(kind, {
      providerFactory: (r, owner) => gatedIssue(createProvider(r, env, { owner }), gate),
    });
  });
  afterAll(async () => {
    release();
    await h?.close();
  });

  async function pending(): Promise<string> {
    const created = await h.as('alice').post('/v1/requests', {
      resource: 'prod-db',
      role: 'admin',
      reason: 'INC-4821',
      duration: '1h',
    });
    expect(created.body.state).toBe('pending');
    return created.body.id;
  }

  const approve = (id: string, prefer?: string) =>
    h.app.inject({
      method: 'POST',
      url: `/v1/requests/${id}/approve`,
      headers: { authorization: `Bearer ${h.tokens.carol}`, ...(prefer ? { prefer } : {}) },
      payload: {},
    });

  it('is answered once the credential is issued: active, with its window, and the credential can be taken', async () => {
    const id = await pending();
    hold();
    setTimeout(() => release(), 300);
    const began = Date.now();
    const res = await approve(id, 'wait=10');
    expect(res.statusCode).toBe(200);
    expect(res.json().state).toBe('active');
    expect(res.json().expiresAt).toEqual(expect.any(String));
    expect(Date.now() - began).toBeGreaterThanOrEqual(250);
    const cred = await h.as('alice').post(`/v1/requests/${id}/credentials`);
    expect(cred.status).toBe(200);
    expect((await h.as('alice').post(`/v1/requests/${id}/revoke`, {})).body.revocation).toBe('done');
  });

  it('answers still approved when the wait runs out first, and issuance carries on', async () => {
    const id = await pending();
    hold();
    const began = Date.now();
    const res = await approve(id, 'wait=1');
    const waited = Date.now() - began;
    expect(res.statusCode).toBe(200);
    expect(res.json().state).toBe('approved');
    expect(waited).toBeGreaterThanOrEqual(950);
    release();
    await h.settled(id);
    expect((await h.as('alice').get(`/v1/requests/${id}`)).body.state).toBe('active');
    await h.as('alice').post(`/v1/requests/${id}/revoke`, {});
  });

  it('without the preference answers at the commit, as before', async () => {
    const id = await pending();
    hold();
    const res = await approve(id);
    expect(res.json().state).toBe('approved');
    release();
    await h.settled(id);
    await h.as('alice').post(`/v1/requests/${id}/revoke`, {});
  });
});
