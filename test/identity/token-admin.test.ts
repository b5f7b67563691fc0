import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApiToken, revokeApiToken } from '../../src/auth/token-admin.js';
import { createTokenStore } from '../../src/auth/token-store.js';
import { migrate, openDatabase } from '../../src/store/database.js';

describe('admin token commands on the server host', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-token-admin-'));
  const databaseUrl = `sqlite:${join(dir, 'stint.db')}`;
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates full-power and scoped tokens, and revokes by id', async () => {
    const full = await createApiToken({ userId: 'alice', name: 'ops', databaseUrl });
    const scoped = await createApiToken({
      userId: 'alice',
      name: 'ci',
      databaseUrl,
      scopes: ['requests:read'],
      expiresAt: new Date(Date.now() + 86_400_000),
    });
    await expect(
      createApiToken({ userId: 'alice', name: 'x', databaseUrl, scopes: ['requests:read'] }),
    ).rejects.toThrow(/must expire/);
    const revoked = await revokeApiToken({ id: scoped.id, databaseUrl });
    expect(revoked).toMatchObject({ id: scoped.id, userId: 'alice', revokedAt: expect.any(String) });
    await expect(revokeApiToken({ id: 'A'.repeat(16), databaseUrl })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });

    const store = openDatabase(databaseUrl);
    await migrate(store);
    const tokens = createTokenStore(store.db);
    expect(await tokens.check(full.token, new Date())).toMatchObject({ ok: true, scopes: null });
    expect(await tokens.check(scoped.token, new Date())).toMatchObject({ ok: false, reason: 'revoked' });
    await store.close();
  });
});
