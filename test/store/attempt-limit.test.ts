import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Migrator, sql } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createAttemptLimit } from '../../src/store/attempt-limit.js';
import { migrate, openDatabase, type StintDatabase } from '../../src/store/database.js';
import { migrationProvider } from '../../src/store/migrations/index.js';
import { createTestStore, MACHINE_PG, STORE_KINDS } from '../support/stores.js';

const LIMIT = { max: 5, windowMs: 300_000 };
const T0 = new Date('2026-03-04T10:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

/** A new, unmigrated store: the database the previous release left. */
async function unmigrated(kind: 'sqlite' | 'postgresql') {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'stint-upgrade-'));
    const store = openDatabase(`sqlite:${join(dir, 'stint.db')}`);
    return {
      store,
      close: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
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
      await store.close();
      const c = new pg.Client({ connectionString: `${MACHINE_PG}/postgres` });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

describe.each(STORE_KINDS)('counted limits in the store (%s)', (kind) => {
  let cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c();
    cleanup = [];
  });
  const fresh = async () => {
    const t = await createTestStore(kind);
    cleanup.push(() => t.close());
    return t;
  };

  it('many attempts at once on one key: never more than the limit is counted, on one server or two sharing the store', async () => {
    const t = await fresh();
    const stores: StintDatabase[] = [t.store];
    if (kind === 'postgresql') {
      const other = openDatabase(t.url);
      cleanup.push(() => other.close());
      stores.push(other);
    }
    const limits = stores.map((s) => createAttemptLimit(s, LIMIT));
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (limits[i % limits.length] as (typeof limits)[0]).reserve('k', at(i)),
      ),
    );
    // On PostgreSQL an attempt that keeps finding the key locked is refused uncounted: at most the limit, then.
    const counted = results.filter((r) => r.ok).length;
    expect(counted).toBeGreaterThanOrEqual(1);
    expect(counted).toBeLessThanOrEqual(5);
    // One after another, the rest of the limit and no more.
    let more = 0;
    for (let i = 0; i < 10; i++) if ((await limits[i % limits.length]?.reserve('k', at(200 + i)))?.ok) more++;
    expect(counted + more).toBe(5);
    // Another key is counted apart.
    expect((await limits[0]?.reserve('other', at(100)))?.ok).toBe(true);
  });

  it('a released attempt does not count; a kept one counts until it leaves the window', async () => {
    const { store } = await fresh();
    const limit = createAttemptLimit(store, LIMIT);
    const first = await limit.reserve('k', at(0));
    for (let i = 1; i < 5; i++) expect((await limit.reserve('k', at(i * 1000))).ok).toBe(true);
    const refused = await limit.reserve('k', at(10_000));
    expect(refused).toEqual({ ok: false, retryAt: at(300_000) });
    if (!first.ok) throw new Error('first attempt refused');
    await first.attempt.release();
    expect((await limit.reserve('k', at(11_000))).ok).toBe(true);
    expect((await limit.reserve('k', at(12_000))).ok).toBe(false);
    // The oldest kept one (at 1 s) leaves the window at 301 s.
    expect((await limit.reserve('k', at(300_999))).ok).toBe(false);
    expect((await limit.reserve('k', at(301_000))).ok).toBe(true);
  });

  it('second-factor failures recorded before the upgrade keep counting after it', async () => {
    const made = await unmigrated(kind);
    cleanup.push(() => made.close());
    const { store } = made;
    const migrator = new Migrator({ db: store.db, provider: migrationProvider({ dialect: store.dialect }) });
    expect((await migrator.migrateTo('0009-audit-integrity')).error).toBeUndefined();
    for (const [user, ms] of [
      ['alice', 0],
      ['alice', 1000],
      ['alice', 2000],
      ['bob', 0],
    ] as const) {
      await sql`INSERT INTO mfa_failures (user_id, method, at) VALUES (${user}, 'totp', ${T0.getTime() + ms})`.execute(
        store.db,
      );
    }
    await migrate(store);
    const limit = createAttemptLimit(store, LIMIT);
    expect((await limit.reserve('mfa:alice', at(5000))).ok).toBe(true);
    expect((await limit.reserve('mfa:alice', at(5000))).ok).toBe(true);
    expect(await limit.reserve('mfa:alice', at(5000))).toEqual({ ok: false, retryAt: at(300_000) });
    for (let i = 0; i < 4; i++) expect((await limit.reserve('mfa:bob', at(5000))).ok).toBe(true);
    expect((await limit.reserve('mfa:bob', at(5000))).ok).toBe(false);
  });
});
