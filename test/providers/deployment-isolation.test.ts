import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { isStintError, type StintError } from '../../src/domain/errors.js';
import { parsePostgresConfig } from '../../src/providers/postgres/postgres-config.js';
import { createPostgresProvider } from '../../src/providers/postgres/postgres-provider.js';
import { parseComment } from '../../src/providers/postgres/principal-name.js';
import { type CredentialProvider, NO_CANCEL, type TargetOwner } from '../../src/providers/provider.js';

const storeId = () => `st_${randomBytes(8).toString('hex')}`;
const IN_A_MINUTE = () => new Date(Date.now() + 60_000);

async function caught(p: Promise<unknown>): Promise<StintError> {
  try {
    await p;
  } catch (e) {
    if (isStintError(e)) return e;
    throw e;
  }
  throw new Error('expected a StintError');
}

/** The calls these tests make, over the v2 contract. */
function view(p: CredentialProvider) {
  return {
    issue: (requestId: string) =>
      p.issue(
        { requestId, requester: 'x', role: 'read', grants: ['app_read'], expiresAt: IN_A_MINUTE() },
        NO_CANCEL,
      ),
    revoke: (principal: string) => p.revoke({ principal }, NO_CANCEL),
    gone: async (principal: string) => (await p.verifyRevoked({ principal }, NO_CANCEL)).gone,
    listOwned: async () => (await p.listOwned({}, NO_CANCEL)).principals,
    listForeign: async () => (await p.listForeign({}, NO_CANCEL)).principals,
    close: () => p.close(),
  };
}

/** Stint deployments on one cluster: each sees, and so reconciles, only what its own store created. */
describe('deployments sharing a target', () => {
  const config = parsePostgresConfig('db', { adminUrl: inject('pgCluster').stintAdminUrl });
  const provider = (owner: TargetOwner) => view(createPostgresProvider({ config, owner }));
  const a = provider({ deployment: 'iso-a', storeId: storeId() });
  const b = provider({ deployment: 'iso-b', storeId: storeId() });
  // Same human name as `a`, another store: the collision of two default installs.
  const twin = provider({ deployment: 'iso-a', storeId: storeId() });
  afterAll(async () => {
    await a.close();
    await b.close();
    await twin.close();
  });

  const issue = (p: typeof a, requestId: string) => p.issue(requestId);

  // Two deployment names, each listing only its own: the contract suite (listOwned of another store).
  it('under one name, two stores own by store id: neither lists nor revokes the other’s roles', async () => {
    const fromA = await issue(a, 'req_5555eeee6666ffff');
    const fromTwin = await issue(twin, 'req_7777aaaa8888bbbb');
    try {
      const ownedA = (await a.listOwned()).map((o) => o.principal);
      expect(ownedA).toContain(fromA.principal);
      expect(ownedA).not.toContain(fromTwin.principal);
      expect((await twin.listOwned()).map((o) => o.principal)).not.toContain(fromA.principal);
      expect((await a.listForeign()).map((f) => f.principal)).toContain(fromTwin.principal);
      expect((await twin.listForeign()).map((f) => f.principal)).toContain(fromA.principal);
      // Another name is another deployment, not a collision: both roles are there, neither is b's concern.
      expect(await b.listForeign()).toEqual([]);

      const refused = await caught(a.revoke(fromTwin.principal));
      expect(refused.code).toBe('PROVIDER_ERROR');
      expect(refused.message).toMatch(/another Stint store/);
      expect(await twin.gone(fromTwin.principal)).toBe(false);
    } finally {
      await a.revoke(fromA.principal);
      await twin.revoke(fromTwin.principal);
    }
  });

  it('tags carry the request, the deployment name and the store id', () => {
    expect(parseComment('stint:request=req_1;deployment=prod;store=st_00ff')).toEqual({
      requestId: 'req_1',
      deployment: 'prod',
      storeId: 'st_00ff',
    });
    // Tags written by earlier versions.
    expect(parseComment('stint:request=req_1;deployment=prod')).toEqual({
      requestId: 'req_1',
      deployment: 'prod',
      storeId: null,
    });
    expect(parseComment('stint:request=req_1')).toEqual({
      requestId: 'req_1',
      deployment: null,
      storeId: null,
    });
    expect(parseComment('something else')).toBeNull();
    expect(parseComment(null)).toBeNull();
  });
});
