import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type pg from 'pg';
import { serialize } from 'pg-protocol';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitFor } from '../support/pg-client.js';
import { connectAs } from '../support/pg-cluster.js';
import { libpq, type PgGranted, type PgProxyFixture, startPgFixture } from './pg-fixture.js';

/**
 * How sessions through the PostgreSQL proxy are refused and ended: no live grant (or a wrong secret, or no TLS) is
 * refused before any byte reaches the target; a revoke ends the session with FATAL 57P01; a malformed packet
 * closes that session only; cancel requests reach the statement they name.
 */
const cluster = inject('pgCluster');
let f: PgProxyFixture;
let root: pg.Client;
beforeAll(async () => {
  f = await startPgFixture(cluster);
  root = await connectAs(cluster.superuserUrl);
});
afterAll(async () => {
  await root?.end();
  await f?.close();
});

const conn = (g: PgGranted, password = g.taken.secret.password as string) => ({
  host: '127.0.0.1',
  port: f.proxyPort,
  user: g.principal,
  password,
  database: 'app',
});

async function backends(principal: string): Promise<{ state: string; query: string }[]> {
  const { rows } = await root.query('SELECT state, query FROM pg_stat_activity WHERE usename = $1', [
    principal,
  ]);
  return rows;
}

describe('refused before anything reaches the target', () => {
  it('refuses a wrong secret, a role with no grant, a plaintext client and an ended grant', async () => {
    const g = await f.grant({ resource: 'appdb-counted' });
    const before = f.upstreamConnections();

    const wrong = await libpq('psql', ['-c', 'SELECT 1'], conn(g, 'not-the-secret'));
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain(`password authentication failed for user "${g.principal}"`);
    const nobody = await libpq('psql', ['-c', 'SELECT 1'], { ...conn(g), user: 'stint_nobody' });
    expect(nobody.stderr).toContain('password authentication failed for user "stint_nobody"');
    const plain = await libpq('psql', ['-c', 'SELECT 1'], { ...conn(g), sslmode: 'disable' });
    expect(plain.stderr).toContain('TLS connections only');
    // A start-up that is not PostgreSQL at all: dropped, and the proxy carries on.
    await new Promise<void>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: f.proxyPort }, () => s.write('GET / HTTP/1.1\r\n\r\n'));
      s.on('error', () => {});
      s.once('close', () => resolve());
    });

    const revoked = await f.h.as('alice').post(`/v1/requests/${g.requestId}/revoke`, {});
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    expect(await f.keptPassword(g.requestId)).toBeNull();
    const ended = await libpq('psql', ['-c', 'SELECT 1'], conn(g));
    expect(ended.stderr).toContain('password authentication failed');

    expect(f.upstreamConnections()).toBe(before);
    expect(await backends(g.principal)).toEqual([]);
    // Refusals are audited in small batches: read once both are in.
    const refusals = await waitFor(async () => {
      const found = (await f.events(g.requestId)).filter((e) => e.action === 'session.refused');
      return found.length >= 2 ? found : null;
    });
    expect(refusals.map((e) => e.details.reason).sort()).toEqual([
      'SCRAM: wrong secret',
      'the grant has ended',
    ]);
    expect(JSON.stringify(refusals)).not.toContain('not-the-secret');

    // The same role's grant works through the same proxy (the relay counts it).
    const ok = await f.grant({ resource: 'appdb-counted' });
    const r = await libpq('psql', ['-Atc', 'SELECT current_user'], conn(ok));
    expect(r.stdout.trim()).toBe(ok.principal);
    expect(f.upstreamConnections()).toBeGreaterThan(before);
  });
});

describe('the end of a grant', () => {
  it('ends a running psql at a revoke, audited as the revoke', async () => {
    const g = await f.grant();
    const c = conn(g);
    const child = spawn('psql', ['-X', '-c', 'SELECT pg_sleep(60)'], {
      env: {
        PATH: process.env.PATH ?? '',
        PGHOST: c.host,
        PGPORT: String(c.port),
        PGUSER: c.user,
        PGPASSWORD: c.password,
        PGDATABASE: c.database,
        PGSSLMODE: 'require',
      },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await waitFor(async () => (await backends(g.principal)).some((b) => b.query.includes('pg_sleep')));
    const revoked = await f.h.as('alice').post(`/v1/requests/${g.requestId}/revoke`, {});
    expect(revoked.status).toBe(200);
    expect(await exited).not.toBe(0);
    // The proxy's FATAL 57P01, or PostgreSQL's own (57P01 too) when the revoke's clean-up on the target ended the
    // backend before the proxy's next poll; the session's end is the revoke's either way.
    expect(stderr).toMatch(/FATAL: {2}terminating connection/);
    const ended = await waitFor(async () =>
      (await f.events(g.requestId)).find((e) => e.action === 'session.ended'),
    );
    expect(ended.details.reason).toBe('grant revoked');
  });

  it('tells a pg client the SQLSTATE 57P01', async () => {
    const g = await f.grant();
    const c = await f.connect(g);
    const sleeping = c.query('SELECT pg_sleep(60)').catch((e: { code?: string }) => e);
    await waitFor(async () => (await backends(g.principal)).some((b) => b.query.includes('pg_sleep')));
    await f.h.as('alice').post(`/v1/requests/${g.requestId}/revoke`, {});
    expect(((await sleeping) as { code?: string }).code).toBe('57P01');
    await c.end().catch(() => {});
  });

  it('ends the session at the grant window’s end with the proxy’s own FATAL 57P01', async () => {
    const g = await f.grant({ duration: '3s' });
    const c = await f.connect(g);
    const sleeping = c.query('SELECT pg_sleep(60)').catch((e: { code?: string; message?: string }) => e);
    const err = (await sleeping) as { code?: string; message?: string };
    expect(err.code).toBe('57P01');
    expect(err.message).toBe('terminating connection: Stint grant window ended');
    await c.end().catch(() => {});
    const log = await f.statementLog(g.requestId);
    // Ended mid-statement: the statement is in the log, with no outcome from the target.
    expect(log.entries).toHaveLength(1);
    expect(log.entries[0]).toMatchObject({
      statement: 'SELECT pg_sleep(60)',
      rows: null,
      error: { code: '', message: 'no answer: the session ended (grant window ended)' },
    });
  });
});

describe('bad input', () => {
  it('closes only the session that sent a malformed message', async () => {
    const g = await f.grant();
    const bad = await f.connect(g);
    const good = await f.connect(g);
    const closed = new Promise<void>((resolve) => bad.once('end', () => resolve()));
    // A message type no client sends, then one whose length is out of bounds.
    const stream = (bad as unknown as { connection: { stream: NodeJS.WritableStream } }).connection.stream;
    stream.write(Buffer.from([0x57, 0, 0, 0, 4]));
    await closed;
    expect((await good.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    const lengthy = await f.connect(g);
    const lengthyClosed = new Promise<void>((resolve) => lengthy.once('end', () => resolve()));
    (lengthy as unknown as { connection: { stream: NodeJS.WritableStream } }).connection.stream.write(
      Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff]),
    );
    await lengthyClosed;
    expect((await good.query('SELECT 2 AS two')).rows[0].two).toBe(2);
    await good.end();
    const reasons = (await f.events(g.requestId))
      .filter((e) => e.action === 'session.ended')
      .map((e) => e.details.reason as string);
    expect(reasons).toEqual(
      expect.arrayContaining([
        'malformed client message: unexpected message type 0x57 from the client',
        'malformed client message: message length 2147483647 out of bounds',
        'client disconnected',
      ]),
    );
    // The proxy itself carries on.
    const after = await f.grant();
    // A session ended mid-statement has that statement cancelled on the target, not left to run to its end.
    const busy = await f.connect(after);
    busy.query('SELECT pg_sleep(60)').catch(() => {});
    await waitFor(async () => (await backends(after.principal)).some((b) => b.query.includes('pg_sleep')));
    (busy as unknown as { connection: { stream: NodeJS.WritableStream } }).connection.stream.write(
      Buffer.from([0x57, 0, 0, 0, 4]),
    );
    await waitFor(async () => (await backends(after.principal)).length === 0);
    const r = await libpq('psql', ['-Atc', 'SELECT 3'], conn(after));
    expect(r.stdout.trim()).toBe('3');
  });

  it('drops a client that sends garbage instead of a TLS handshake', async () => {
    const socket = connect({ host: '127.0.0.1', port: f.proxyPort });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.on('error', () => {});
    socket.write(serialize.requestSsl());
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(Buffer.from('this is not a TLS ClientHello, not at all\r\n'.repeat(4)));
    await closed;
    const g = await f.grant();
    expect((await libpq('psql', ['-Atc', 'SELECT 6'], conn(g))).stdout.trim()).toBe('6');
  });

  it('drops a malformed packet during the TLS start-up', async () => {
    const socket = connect({ host: '127.0.0.1', port: f.proxyPort });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(serialize.requestSsl());
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    const secure = tlsConnect({ socket, rejectUnauthorized: false });
    await new Promise<void>((resolve) => secure.once('secureConnect', () => resolve()));
    secure.on('error', () => {});
    const closed = new Promise<void>((resolve) => secure.once('close', () => resolve()));
    secure.write(Buffer.from([0, 0, 0, 9, 0, 9, 0, 0, 0]));
    await closed;
    const g = await f.grant();
    expect((await libpq('psql', ['-Atc', 'SELECT 4'], conn(g))).stdout.trim()).toBe('4');
  });
});

describe('cancel requests', () => {
  it('routes psql’s cancel (SIGINT) to the statement it names, and logs it', async () => {
    const g = await f.grant();
    const c = conn(g);
    const child = spawn('psql', ['-X', '-c', 'SELECT pg_sleep(60)'], {
      env: {
        PATH: process.env.PATH ?? '',
        PGHOST: c.host,
        PGPORT: String(c.port),
        PGUSER: c.user,
        PGPASSWORD: c.password,
        PGDATABASE: c.database,
        PGSSLMODE: 'require',
      },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await waitFor(async () => (await backends(g.principal)).some((b) => b.query.includes('pg_sleep')));
    child.kill('SIGINT');
    expect(await exited).not.toBe(0);
    expect(stderr).toContain('canceling statement due to user request');
    const log = await f.statementLog(g.requestId);
    expect(log.entries.find((e) => e.statement.includes('pg_sleep'))?.error?.code).toBe('57014');
  });

  it('drops a cancel with the wrong secret and routes the right one', async () => {
    const g = await f.grant();
    const c = await f.connect(g);
    const key = c as unknown as { processID: number; secretKey: number };
    const sleeping = c.query('SELECT pg_sleep(60)').catch((e: { code?: string }) => e);
    await waitFor(async () => (await backends(g.principal)).some((b) => b.query.includes('pg_sleep')));
    const cancel = (pid: number, secret: number) =>
      new Promise<void>((resolve) => {
        const s = connect({ host: '127.0.0.1', port: f.proxyPort }, () =>
          s.write(serialize.cancel(pid, secret)),
        );
        s.on('error', () => {});
        s.once('close', () => resolve());
      });
    await cancel(key.processID, (key.secretKey + 1) | 0);
    // Still sleeping: the wrong key was dropped (the proxy answers a cancel only by closing, routed or not).
    const still = await backends(g.principal);
    expect(still.some((b) => b.state === 'active' && b.query.includes('pg_sleep'))).toBe(true);
    await cancel(key.processID, key.secretKey);
    expect(((await sleeping) as { code?: string }).code).toBe('57014');
    expect((await c.query('SELECT 5 AS five')).rows[0].five).toBe(5);
    await c.end();
  });
});
