import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateNoteKey } from '../../src/audit/log/signed-note.js';
import { createTokenStore } from '../../src/auth/token-store.js';
import { migrate, openDatabase } from '../../src/store/database.js';
import { targetEnv } from '../support/harness.js';
import { waitFor } from '../support/pg-client.js';
import { connectAs, type PgCluster, startPgCluster } from '../support/pg-cluster.js';
import { type ServerProcess, startServerProcess } from '../support/server-process.js';
import { TEST_POLICY } from '../support/test-policy.js';

/** A small filesystem of its own: mounting needs root, which the test machine gives. */
function mountSmallDisk(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Fills the filesystem holding `dir` to the last byte with one file, and answers its path. */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  // Whatever the 64 KiB writes left, byte by byte is too slow: a last small write takes most of the rest.
  const small = openSync(path, 'a');
  try {
    for (;;) writeSync(small, Buffer.alloc(512, 1));
  } catch {
    // ENOSPC: full.
  } finally {
    closeSync(small);
  }
  return path;
}

/** Whether this machine lets the test mount a filesystem (it needs root): tried once, undone at once. */
function canMount(): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'stint-mount-probe-'));
  try {
    if (!mountSmallDisk(dir, '1m')) return false;
    execFileSync('umount', [dir], { stdio: 'ignore' });
    return true;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const mountable = canMount();

/** A folder with a small filesystem mounted at `disk` inside it; mounted in beforeAll, removed in afterAll. */
function smallDisk(prefix: string, options: () => string) {
  // Made in mount(), so a suite left out (skipped, filtered) leaves nothing behind.
  const base = join(tmpdir(), `${prefix}${randomBytes(6).toString('hex')}`);
  const disk = join(base, 'disk');
  return {
    base,
    disk,
    mount() {
      mkdirSync(disk, { recursive: true, mode: 0o700 });
      if (!mountSmallDisk(disk, options())) throw new Error(`could not mount a small filesystem at ${disk}`);
    },
    unmount() {
      try {
        execFileSync('umount', ['-l', disk], { stdio: 'ignore' });
      } catch {
        // Not mounted (beforeAll failed before): only the folder is left.
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/**
 * The SQLite store's data folder on a small filesystem that fills up, under a real `stint server`: every write
 * answers 503 STORE_FULL naming SQLITE_FULL (not a 500 whose only trace was "cannot rollback - no transaction is
 * active"), the log names the cause, the server reports not ready, and it recovers once space is freed.
 */
describe.skipIf(!mountable)('a full disk under the SQLite store', () => {
  const { base, disk, mount, unmount } = smallDisk('stint-disk-full-', () => '8m');
  const policyPath = join(base, 'stint.yaml');
  const dbUrl = `sqlite:${join(disk, 'stint.db')}`;
  const tokens: Record<string, string> = {};
  let server: ServerProcess | undefined;

  async function call(method: string, path: string, body?: unknown) {
    const res = await fetch(`${server?.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${tokens.alice}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    // biome-ignore lint/suspicious/noExplicitAny: API answers are read field by field
    return { status: res.status, body: (text ? JSON.parse(text) : null) as any };
  }

  let ticket = 0;
  const create = (_why: string) =>
    call('POST', '/v1/requests', { resource: 'prod-db', role: 'admin', reason: `INC-${++ticket}` });

  beforeAll(async () => {
    mount();
    writeFileSync(
      policyPath,
      TEST_POLICY.replace('deployment: stint-test', `deployment: full-${randomBytes(4).toString('hex')}`),
    );
    const db = openDatabase(dbUrl);
    await migrate(db);
    tokens.alice = (await createTokenStore(db.db).create('alice', 'test', new Date())).token;
    await db.close();
    server = await startServerProcess(
      ['--policy', policyPath, '--db', dbUrl, '--port', '0', '--data-dir', disk],
      {
        ...targetEnv(),
        STINT_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        STINT_AUDIT_SIGNING_KEY: generateNoteKey('stint-full').skey,
        STINT_AUDIT_CHECKPOINT_DIR: join(base, 'checkpoints'),
        STINT_LOG_LEVEL: 'info',
      },
    );
  });

  afterAll(async () => {
    await server?.kill9();
    unmount();
  });

  it('answers 503 STORE_FULL naming SQLITE_FULL, is not ready, logs the cause, and recovers once space is freed', async () => {
    const before = await create('before the disk fills');
    expect(before.status, JSON.stringify(before.body)).toBe(201);
    expect((await call('GET', '/readyz')).status).toBe(200);

    const filler = fill(disk);
    // The WAL may still have room for a few writes: write until the disk refuses one.
    const answers: { status: number; body: { error?: { code: string } } }[] = [];
    const refused = await waitFor(async () => {
      const r = await create('while the disk is full');
      answers.push(r);
      return r.status >= 300 ? r : null;
    }, 30_000);
    expect(answers.filter((a) => a.status >= 300 && a.status !== 503)).toEqual([]);
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatchObject({ code: 'STORE_FULL', details: { cause: 'SQLITE_FULL' } });

    const notReady = await waitFor(async () => {
      const r = await call('GET', '/readyz');
      return r.status === 503 ? r : null;
    });
    expect(notReady.body.status).toBe('not ready');
    expect(notReady.body.code).toBe('STORE_FULL');
    // Every later write says the same, and the log says why, never the masking rollback error.
    const again = await create('still full');
    expect(again.status).toBe(503);
    expect(again.body.error.code).toBe('STORE_FULL');
    await waitFor(async () => /SQLITE_FULL/.test(server?.output() ?? ''));
    expect(server?.output()).not.toMatch(/cannot rollback/);
    expect(server?.output()).not.toMatch(/"code":"INTERNAL"|unhandled error/);

    unlinkSync(filler);
    await waitFor(async () => (await call('GET', '/readyz')).status === 200);
    const after = await create('after space was freed');
    expect(after.status).toBe(201);
    expect(server?.child.exitCode).toBeNull();
  }, 90_000);
});

/** The postgres user's ids, which own a PostgreSQL tablespace's folder. */
function postgresIds(): string {
  const uid = execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim();
  const gid = execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim();
  return `uid=${uid},gid=${gid},mode=0700`;
}

/**
 * The PostgreSQL store's database in a tablespace on a small filesystem (its WAL elsewhere, as a full data
 * volume with a separate WAL volume would be): writes answer 503 STORE_FULL naming SQLSTATE 53100, not a 500.
 */
describe.skipIf(!mountable)('a full disk under the PostgreSQL store', () => {
  const small = smallDisk('stint-pg-disk-full-', () => `24m,${postgresIds()}`);
  const pgBase = small.base;
  const pgDisk = small.disk;
  const policyPath = join(pgBase, 'stint.yaml');
  const tokens: Record<string, string> = {};
  let cluster: PgCluster;
  let storeUrl: string;
  let server: ServerProcess | undefined;
  let ticket = 0;

  async function create() {
    const res = await fetch(`${server?.url}/v1/requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.alice}`, 'content-type': 'application/json' },
      body: JSON.stringify({ resource: 'prod-db', role: 'admin', reason: `INC-${++ticket}` }),
      signal: AbortSignal.timeout(15_000),
    });
    // biome-ignore lint/suspicious/noExplicitAny: API answers are read field by field
    return { status: res.status, body: (await res.json()) as any };
  }

  beforeAll(async () => {
    small.mount();
    // The server (user postgres) must reach the tablespace's folder through this one.
    chmodSync(pgBase, 0o755);
    cluster = await startPgCluster();
    const root = await connectAs(cluster.superuserUrl);
    await root.query(`CREATE TABLESPACE small LOCATION '${pgDisk}'`);
    await root.query('CREATE DATABASE stint TABLESPACE small');
    await root.end();
    const url = new URL(cluster.superuserUrl);
    url.pathname = '/stint';
    storeUrl = url.toString();
    writeFileSync(
      policyPath,
      TEST_POLICY.replace('deployment: stint-test', `deployment: pgfull-${randomBytes(4).toString('hex')}`),
    );
    const db = openDatabase(storeUrl);
    await migrate(db);
    tokens.alice = (await createTokenStore(db.db).create('alice', 'test', new Date())).token;
    await db.close();
    server = await startServerProcess(
      ['--policy', policyPath, '--db', storeUrl, '--port', '0', '--data-dir', join(pgBase, 'data')],
      {
        ...targetEnv(),
        STINT_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        STINT_AUDIT_SIGNING_KEY: generateNoteKey('stint-pgfull').skey,
        STINT_LOG_LEVEL: 'warn',
      },
    );
  }, 60_000);

  afterAll(async () => {
    await server?.kill9();
    await cluster?.stop();
    small.unmount();
  });

  it('answers 503 STORE_FULL naming SQLSTATE 53100, and writes again once space is freed', async () => {
    expect((await create()).status).toBe(201);
    const root = await connectAs(storeUrl);
    try {
      // Random text (incompressible) in the same tablespace until the filesystem refuses to extend a file.
      await root.query('CREATE TABLE filler (b text)');
      for (;;) {
        try {
          await root.query(
            "INSERT INTO filler SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 4000)",
          );
        } catch (e) {
          expect((e as { code?: string }).code).toBe('53100');
          break;
        }
      }
      const answers: { status: number; body: { error?: { code: string } } }[] = [];
      const refused = await waitFor(async () => {
        const r = await create();
        answers.push(r);
        return r.status >= 300 ? r : null;
      }, 30_000);
      expect(answers.filter((a) => a.status >= 300 && a.status !== 503)).toEqual([]);
      expect(refused.body.error).toMatchObject({ code: 'STORE_FULL', details: { cause: 'SQLSTATE 53100' } });
      // The log says why, not "internal error".
      await waitFor(async () => /SQLSTATE 53100/.test(server?.output() ?? ''));
      expect(server?.output()).not.toMatch(/unhandled error/);
      await root.query('DROP TABLE filler');
      await root.query('CHECKPOINT');
    } finally {
      await root.end();
    }
    await waitFor(async () => (await create()).status === 201);
  }, 90_000);
});
