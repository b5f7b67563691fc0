import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recordingStore } from '../../src/recording/recording-store.js';
import { recordingDb } from '../../src/recording/recording-tables.js';
import { waitFor } from '../support/pg-client.js';
import { libpq, type PgGranted, type PgProxyFixture, startPgFixture } from './pg-fixture.js';

/**
 * When the statement log cannot be written, the resource's policy decides: the session is refused before the
 * target is contacted (the default, fail closed), or it goes on unlogged with `recording.failed` audited. Tests run
 * as root, whom no mode bit stops, so "cannot be written" is a file where the recordings' folder should be.
 */
const cluster = inject('pgCluster');
let f: PgProxyFixture;
let root: string;
beforeAll(async () => {
  f = await startPgFixture(cluster, { storage: 'local' });
  root = join(f.dir, 'recordings');
});
afterAll(async () => {
  rmSync(root, { force: true, recursive: true });
  mkdirSync(root, { recursive: true, mode: 0o700 });
  await f?.close();
});

const conn = (g: PgGranted) => ({
  host: '127.0.0.1',
  port: f.proxyPort,
  user: g.principal,
  password: g.taken.secret.password as string,
  database: 'app',
});

async function ended(requestId: string) {
  return waitFor(async () => {
    const [s] = await recordingStore.listSessions(recordingDb(f.h.stint.deps.store.db), {
      requestId,
      limit: 1,
    });
    return s?.ended_at ? s : null;
  });
}

describe('a statement log that cannot be written', () => {
  it('refuses the session before the target is contacted, by default', async () => {
    const g = await f.grant({ resource: 'appdb-counted' });
    const before = f.upstreamConnections();
    rmSync(root, { recursive: true, force: true });
    writeFileSync(root, 'not a folder');
    try {
      const r = await libpq('psql', ['-Atc', 'SELECT 1'], conn(g));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('the Stint statement log cannot be written; the session is refused');
    } finally {
      rmSync(root, { force: true });
      mkdirSync(root, { recursive: true, mode: 0o700 });
    }
    expect(f.upstreamConnections()).toBe(before);
    expect((await ended(g.requestId)).end_reason).toMatch(/^recording cannot be written \(.*ENOTDIR.*\)$/);
  });

  it('carries on unlogged, audited, where the resource says continue', async () => {
    const g = await f.grant({ resource: 'appdb-lenient' });
    rmSync(root, { recursive: true, force: true });
    writeFileSync(root, 'not a folder');
    let r: Awaited<ReturnType<typeof libpq>>;
    try {
      r = await libpq('psql', ['-Atc', 'SELECT 8'], conn(g));
    } finally {
      rmSync(root, { force: true });
      mkdirSync(root, { recursive: true, mode: 0o700 });
    }
    expect(r.stdout.trim(), r.stderr).toBe('8');
    const session = await ended(g.requestId);
    const failed = await waitFor(async () =>
      (await f.events(g.requestId)).find((e) => e.action === 'recording.failed'),
    );
    expect(failed.details).toMatchObject({ continued: true });
    const [recording] = await recordingStore.recordingsOf(recordingDb(f.h.stint.deps.store.db), session.id);
    expect(recording?.state).toBe('failed');
  });
});
