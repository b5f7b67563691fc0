import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Migrator, sql } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditWriter } from '../../src/audit/audit-writer.js';
import { createHostTokens } from '../../src/identity/host-tokens.js';
import { createSessionStore } from '../../src/identity/session-store.js';
import { migrate, openDatabase, type StintDatabase } from '../../src/store/database.js';
import { migrationProvider } from '../../src/store/migrations/index.js';
import { MACHINE_PG, STORE_KINDS } from '../support/stores.js';

/** A new, unmigrated store: the old code's database before this release. */
async function unmigrated(
  kind: 'sqlite' | 'postgresql',
): Promise<{ store: StintDatabase; drop(): Promise<void> }> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'stint-upgrade-'));
    const store = openDatabase(`sqlite:${join(dir, 'stint.db')}`);
    return { store, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `stint_upgrade_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: `${MACHINE_PG}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    store: openDatabase(`${MACHINE_PG}/${name}`),
    async drop() {
      const c = new pg.Client({ connectionString: `${MACHINE_PG}/postgres` });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

describe.each(STORE_KINDS)('host-made sessions and tokens on an upgraded %s store', (kind) => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
  });

  it('sessions the old command made are marked host-made (unannounced); sign-ins are not', async () => {
    const made = await unmigrated(kind);
    cleanup = async () => {
      await made.store.close();
      await made.drop();
    };
    const { store } = made;
    const migrator = new Migrator({ db: store.db, provider: migrationProvider({ dialect: store.dialect }) });
    expect((await migrator.migrateTo('0009-audit-integrity')).error).toBeUndefined();
    const now = Date.now();
    // Rows as the old code wrote them: `stint admin session create` used source 'cli', sign-ins 'oidc'.
    for (const [id, source] of [
      ['AAAAAAAAAAAAAAAA', 'cli'],
      ['BBBBBBBBBBBBBBBB', 'oidc'],
    ] as const) {
      await sql`INSERT INTO sessions (id, user_id, hash, source, created_at, expires_at, revoked_at, mfa_at, auth_at)
        VALUES (${id}, 'carol', ${'00'.repeat(32)}, ${source}, ${now}, ${now + 3_600_000}, NULL, NULL, NULL)`.execute(
        store.db,
      );
    }
    await migrate(store);
    const rows = await store.db
      .selectFrom('sessions')
      .select(['id', 'host_made_by', 'host_announced_at'])
      .orderBy('id')
      .execute();
    expect(rows.map((r) => [r.id, r.host_made_by !== null, r.host_announced_at])).toEqual([
      ['AAAAAAAAAAAAAAAA', true, null],
      ['BBBBBBBBBBBBBBBB', false, null],
    ]);
    // Marked once: the first announcement wins, the second finds nothing to mark.
    const sessions = createSessionStore(store.db);
    expect(await sessions.markAnnounced(store.db, 'AAAAAAAAAAAAAAAA', new Date())).toBe(true);
    expect(await sessions.markAnnounced(store.db, 'AAAAAAAAAAAAAAAA', new Date())).toBe(false);
    expect(await sessions.markAnnounced(store.db, 'BBBBBBBBBBBBBBBB', new Date())).toBe(false);
  });

  it('unscoped tokens (only the host command made them) are marked made by an unknown operator, and announced', async () => {
    const made = await unmigrated(kind);
    cleanup = async () => {
      await made.store.close();
      await made.drop();
    };
    const { store } = made;
    const migrator = new Migrator({ db: store.db, provider: migrationProvider({ dialect: store.dialect }) });
    expect((await migrator.migrateTo('0019-session-review-claims')).error).toBeUndefined();
    const now = Date.now();
    // Rows as the old code wrote them: the host command's without scopes, the API's scoped and expiring.
    for (const [id, scopes, expires] of [
      ['AAAAAAAAAAAAAAAA', null, null],
      ['BBBBBBBBBBBBBBBB', '["requests:read"]', now + 86_400_000],
    ] as const) {
      await sql`INSERT INTO api_tokens (id, user_id, name, hash, created_at, expires_at, revoked_at, last_used_at, scopes, host_session)
        VALUES (${id}, 'carol', 'old', ${'00'.repeat(32)}, ${now}, ${expires}, NULL, NULL, ${scopes}, NULL)`.execute(
        store.db,
      );
    }
    await migrate(store);
    const rows = await store.db
      .selectFrom('api_tokens')
      .select(['id', 'host_made_by', 'host_announced_at', 'host_revoked_by'])
      .orderBy('id')
      .execute();
    expect(rows.map((r) => [r.id, r.host_made_by?.startsWith('(unknown'), r.host_announced_at])).toEqual([
      ['AAAAAAAAAAAAAAAA', true, null],
      ['BBBBBBBBBBBBBBBB', undefined, null],
    ]);
    expect(rows.every((r) => r.host_revoked_by === null)).toBe(true);
    // The server's sweep announces the old one, once.
    const hostTokens = createHostTokens({
      db: store.db,
      audit: createAuditWriter([]),
      clock: () => new Date(),
    });
    expect(await hostTokens.sweep(new AbortController().signal)).toBe(1);
    expect(await hostTokens.sweep(new AbortController().signal)).toBe(0);
    const events = await store.db.selectFrom('audit_events').select(['action', 'actor']).execute();
    expect(events).toEqual([
      {
        action: 'token.host-created',
        actor: 'host:(unknown: made before host tokens were recorded)@(unknown)',
      },
    ]);
  });
});
