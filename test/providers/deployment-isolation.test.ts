import { afterAll, describe, expect, inject, it } from 'vitest';
import { createPostgresProvider } from '../../src/providers/postgres/postgres-provider.js';
import { parseComment } from '../../src/providers/postgres/principal-name.js';

/** Two Stint deployments on one cluster: each sees, and so reconciles, only what it created. */
describe('deployments sharing a target', () => {
  const adminUrl = inject('pgCluster').stintAdminUrl;
  const a = createPostgresProvider({ resourceId: 'db', adminUrl, deployment: 'iso-a' });
  const b = createPostgresProvider({ resourceId: 'db', adminUrl, deployment: 'iso-b' });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  it('listOwned returns only the caller deployment’s roles', async () => {
    const expiresAt = new Date(Date.now() + 60_000);
    const fromA = await a.issue({
      requestId: 'req_1111aaaa2222bbbb',
      requester: 'x',
      role: 'read',
      grants: ['app_read'],
      expiresAt,
    });
    const fromB = await b.issue({
      requestId: 'req_3333cccc4444dddd',
      requester: 'y',
      role: 'read',
      grants: ['app_read'],
      expiresAt,
    });
    try {
      const ownedA = (await a.listOwned()).map((o) => o.principal);
      const ownedB = (await b.listOwned()).map((o) => o.principal);
      expect(ownedA).toContain(fromA.principal);
      expect(ownedA).not.toContain(fromB.principal);
      expect(ownedB).toContain(fromB.principal);
      expect(ownedB).not.toContain(fromA.principal);
    } finally {
      await a.revoke(fromA.principal);
      await b.revoke(fromB.principal);
    }
    expect(await a.verifyRevoked(fromA.principal)).toBe(true);
    expect(await b.verifyRevoked(fromB.principal)).toBe(true);
  });

  it('parses comments with and without a deployment', () => {
    expect(parseComment('stint:request=req_1;deployment=prod')).toEqual({
      requestId: 'req_1',
      deployment: 'prod',
    });
    expect(parseComment('stint:request=req_1')).toEqual({ requestId: 'req_1', deployment: null });
    expect(parseComment('something else')).toBeNull();
    expect(parseComment(null)).toBeNull();
  });
});
