import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Migrator, sql } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { appendAudit } from '../../src/audit/audit-store.js';
import { verifyStore } from '../../src/audit/audit-verify.js';
import { canonicalize } from '../../src/audit/log/jcs.js';
import { leafMacKeys } from '../../src/audit/log/leaf-mac.js';
import { leafHash } from '../../src/audit/log/merkle.js';
import { generateNoteKey, parseSkey } from '../../src/audit/log/signed-note.js';
import { silentLogger } from '../../src/logger.js';
import { migrate, openDatabase, type StintDatabase } from '../../src/store/database.js';
import { migrationProvider } from '../../src/store/migrations/index.js';
import { MACHINE_PG, STORE_KINDS } from '../support/stores.js';

/**
 * Upgrading a store whose trail predates leaf MACs: leaves recorded before migration 0007 (even ones not yet
 * folded into the tree) carry none and stay acceptable; every leaf after it needs one.
 */
/** A new, unmigrated store: the old code's database before this release. */
async function unmigrated(
  kind: 'sqlite' | 'postgresql',
): Promise<{ store: StintDatabase; close(): Promise<void> }> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'stint-upgrade-'));
    const store = openDatabase(`sqlite:${join(dir, 'stint.db')}`);
    return { store, close: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `stint_upgrade_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: `${MACHINE_PG}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const store = openDatabase(`${MACHINE_PG}/${name}`);
  return {
    store,
    async close() {
      const c = new pg.Client({ connectionString: `${MACHINE_PG}/postgres` });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

describe.each(STORE_KINDS)('leaf MACs on an upgraded %s store', (kind) => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
  });

  it('legacy leaves are exempt, new ones carry a MAC, and the whole trail builds and verifies', async () => {
    const made = await unmigrated(kind);
    const store = made.store;
    cleanup = async () => {
      await store.close();
      await made.close();
    };
    const migrator = new Migrator({ db: store.db, provider: migrationProvider({ dialect: store.dialect }) });
    expect((await migrator.migrateTo('0006-oidc-profiles')).error).toBeUndefined();
    // Three events recorded by the old code, none folded into the tree yet.
    for (let seq = 0; seq < 3; seq++) {
      const body = canonicalize({
        v: 1,
        seq,
        id: randomUUID(),
        time: new Date().toISOString(),
        actor: 'stint',
        action: 'test.old',
        result: 'success',
        requestId: null,
        target: null,
        reason: null,
        source: null,
        details: {},
      });
      await sql`INSERT INTO audit_events (seq, id, at, actor, action, request_id, body, leaf_hash)
        VALUES (${seq}, ${randomUUID()}, ${Date.now()}, 'stint', 'test.old', NULL, ${body},
          ${Buffer.from(leafHash(body))})`.execute(store.db);
    }
    await sql`UPDATE audit_head SET size = 3`.execute(store.db);
    await migrate(store);

    const signer = parseSkey(generateNoteKey('stint-test/upgrade').skey);
    const log = createAuditLog({
      store,
      clock: () => new Date(),
      logger: silentLogger,
      origin: signer.name,
      signers: [signer],
      checkpointDir: null,
      checkpointIntervalMs: 0,
    });
    await appendAudit(
      store.db,
      {
        at: new Date(),
        actor: 'stint',
        action: 'test.new',
        requestId: null,
        details: {},
      },
      leafMacKeys([signer]),
    );
    const macs = await store.db
      .selectFrom('audit_events')
      .select(['seq', 'leaf_mac'])
      .orderBy('seq')
      .execute();
    expect(macs.map((m) => m.leaf_mac !== null)).toEqual([false, false, false, true]);
    expect((await log.build({ checkpoint: true }))?.size).toBe(4);
    const report = await verifyStore({
      store,
      origin: signer.name,
      keys: [signer.verifier],
      checkpointDir: null,
      macKeys: leafMacKeys([signer]),
    });
    expect(report).toMatchObject({ ok: true, size: 4, macs: { checked: 1, unchecked: 0 } });
    // The start of MACs cannot be moved by a store writer.
    await expect(sql`UPDATE audit_mac_start SET size = 100`.execute(store.db)).rejects.toThrow(/append-only/);
  });
});
