import { createHash } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectAs } from '../support/pg-cluster.js';
import { libpq, type PgProxyFixture, startPgFixture } from './pg-fixture.js';

/**
 * The PostgreSQL proxy with real clients: `psql` (simple protocol) and `pg` (extended) through the proxy to the
 * test's scram cluster, with what the take gave the user. Every statement is in the session's log, bound values
 * redacted unless the resource allows them, and the log is the one sealed into the audit trail.
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

const conn = (g: { principal: string; taken: { secret: Record<string, string> } }) => ({
  host: '127.0.0.1',
  port: f.proxyPort,
  user: g.principal,
  password: g.taken.secret.password as string,
  database: 'app',
});

describe('psql through the proxy', () => {
  it('runs statements with the proxy secret; the user never sees the role password; all is logged', async () => {
    const g = await f.grant();
    const real = await f.keptPassword(g.requestId);
    expect(real).toBeTruthy();
    // What the user was given: the proxy's address and a secret of its own, never the role's password.
    expect(g.taken.secret.port).toBe(String(f.proxyPort));
    expect(g.taken.secret.url).toContain(`:${f.proxyPort}/app?sslmode=require`);
    expect(JSON.stringify(g.taken)).not.toContain(real as string);
    const view = await f.h.as('alice').get(`/v1/requests/${g.requestId}`);
    expect(JSON.stringify(view.body)).not.toContain(real as string);
    // …and that secret is no password on the target itself.
    const direct = await libpq('psql', ['-c', 'SELECT 1'], {
      ...conn(g),
      port: cluster.port,
      sslmode: 'disable',
    });
    expect(direct.code).not.toBe(0);
    expect(direct.stderr).toContain('password authentication failed');

    const r = await libpq(
      'psql',
      [
        '-X',
        '-v',
        'ON_ERROR_STOP=0',
        '-c',
        'SELECT owner FROM accounts ORDER BY id',
        '-c',
        'SELECT 1/0',
        '-c',
        "UPDATE accounts SET balance = balance WHERE owner IN ('alice', 'bob')",
        '-c',
        "ALTER ROLE CURRENT_USER PASSWORD 'not-for-the-log'",
      ],
      conn(g),
    );
    expect(r.stdout).toContain('alice');
    expect(r.stdout).toContain('UPDATE 2');
    // The table is the cluster's, shared with other files that add rows: the log must say what psql was sent.
    const shown = Number(/\((\d+) rows?\)/.exec(r.stdout)?.[1]);
    expect(shown).toBeGreaterThanOrEqual(3);
    expect(r.stderr).toContain('division by zero');

    const log = await f.statementLog(g.requestId);
    const header = JSON.parse(log.text.split('\n')[0] as string);
    expect(header).toMatchObject({
      kind: 'pg-query-log',
      grantId: g.requestId,
      user: 'alice',
      database: 'app',
    });
    const byText = (s: string) => log.entries.find((e) => e.statement.includes(s));
    expect(byText('SELECT owner FROM accounts')).toMatchObject({
      grantId: g.requestId,
      user: 'alice',
      role: g.principal,
      protocol: 'simple',
      rows: shown,
      error: null,
    });
    expect(byText('SELECT 1/0')?.error).toEqual({ code: '22012', message: 'division by zero' });
    expect(byText('UPDATE accounts')?.rows).toBe(2);
    for (const e of log.entries) expect(e.durationMs).toBeGreaterThanOrEqual(0);
    expect(log.text).not.toContain('not-for-the-log');
    expect(byText('ALTER ROLE')?.statement).toContain("PASSWORD '<redacted>'");

    // The log served is the one sealed: its bytes hash to the segments' hashes in the audit trail.
    const events = await f.events(g.requestId);
    const segments = events.filter(
      (e) => e.action === 'recording.segment' && e.details.recordingId === log.recordingId,
    );
    expect(segments).toHaveLength(1);
    expect(segments[0]?.details.sha256).toBe(createHash('sha256').update(log.text).digest('hex'));
    expect(events.map((e) => e.action)).toEqual(
      expect.arrayContaining(['session.started', 'session_review.drawn', 'session.ended']),
    );
    // Listed and into the review queue as SSH sessions go (rate 1 here).
    const listed = await f.h.as('erin').get(`/v1/recorded-sessions?request=${g.requestId}`);
    expect(listed.body.sessions).toHaveLength(1);
    expect(listed.body.sessions[0]).toMatchObject({ protocol: 'postgres', account: g.principal });
    const queue = await f.h.as('erin').get('/v1/session-reviews');
    expect(queue.body.reviews.map((r: { sessionId: string }) => r.sessionId)).toContain(
      listed.body.sessions[0].id,
    );
  });
});

describe('COPY through the proxy', () => {
  it('carries psql’s \\copy both ways and logs its statements and rows', async () => {
    const g = await f.grant();
    const r = await libpq(
      'psql',
      [
        '-X',
        '-v',
        'ON_ERROR_STOP=1',
        '-c',
        'CREATE TEMP TABLE copied (n int)',
        '-c',
        "\\copy copied FROM PROGRAM 'seq 101 105'",
        '-c',
        '\\copy (SELECT n * 2 FROM copied ORDER BY n) TO STDOUT',
      ],
      conn(g),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('COPY 5');
    expect(r.stdout).toContain('202\n204\n206\n208\n210');
    const log = await f.statementLog(g.requestId);
    const copies = log.entries.filter((e) => e.statement.startsWith('COPY'));
    expect(copies.map((e) => [e.rows, e.tags])).toEqual([
      [5, ['COPY 5']],
      [5, ['COPY 5']],
    ]);
    // The statements as psql sent them; the copied rows are not in the log.
    expect(copies[0]?.statement).toMatch(/^COPY\s+copied\s+FROM STDIN/);
    expect(copies[1]?.statement).toMatch(
      /^COPY\s+\(\s*SELECT n \* 2 FROM copied ORDER BY n\s*\)\s+TO STDOUT/,
    );
  });
});

describe('a long session', () => {
  it('outlives the target leg’s 10 s start-up deadline', async () => {
    const g = await f.grant();
    const c = await f.connect(g);
    await c.query('SELECT pg_sleep(11)');
    expect((await c.query('SELECT 7 AS seven')).rows[0].seven).toBe(7);
    await c.end();
  }, 30_000);
});

describe('the extended protocol', () => {
  it('logs each execution with its bound values redacted by default', async () => {
    const g = await f.grant();
    const c = await f.connect(g);
    const res = await c.query('SELECT owner, balance FROM accounts WHERE id = $1 OR owner = $2', [
      2,
      'carol',
    ]);
    expect(res.rows.map((r) => r.owner).sort()).toEqual(['bob', 'carol']);
    await c.query('SELECT $1::text AS v', [null]);
    await expect(c.query('SELECT * FROM no_such_table WHERE id = $1', [1])).rejects.toThrow(/no_such_table/);
    expect((await c.query('SELECT 42 AS n')).rows[0].n).toBe(42);
    await c.end();
    const log = await f.statementLog(g.requestId);
    const hit = log.entries.find((e) => e.statement.includes('WHERE id = $1 OR owner = $2'));
    expect(hit).toMatchObject({ protocol: 'extended', rows: 2, parameters: [{ bytes: 1 }, { bytes: 5 }] });
    expect(log.text).not.toContain('carol"');
    expect(log.entries.find((e) => e.statement.includes('$1::text'))?.parameters).toEqual([null]);
    expect(log.entries.find((e) => e.statement.includes('no_such_table'))?.error?.code).toBe('42P01');
    expect(log.entries.find((e) => e.statement === 'SELECT 42 AS n')).toMatchObject({ rows: 1, error: null });
  });

  it('logs bound values as sent where the resource allows them', async () => {
    const g = await f.grant({ resource: 'appdb-open' });
    const c = await f.connect(g);
    await c.query('SELECT owner FROM accounts WHERE owner = $1', ['bob']);
    await c.end();
    const log = await f.statementLog(g.requestId);
    expect(log.entries.find((e) => e.statement.includes('owner = $1'))?.parameters).toEqual(['bob']);
  });
});

describe('pgbench through the proxy', () => {
  it('runs simple and extended protocol transactions, every one logged', async () => {
    const db = `bench_${Date.now().toString(36)}`;
    await root.query(`CREATE DATABASE ${db}`);
    const init = await libpq('pgbench', ['-i', '-s', '1', '-q'], {
      host: cluster.host,
      port: cluster.port,
      user: 'postgres',
      password: new URL(cluster.superuserUrl).password,
      database: db,
      sslmode: 'disable',
    });
    expect(init.code, init.stderr).toBe(0);
    const benchDb = await connectAs(cluster.superuserUrl.replace(/\/postgres$/, `/${db}`));
    await benchDb.query('GRANT ALL ON ALL TABLES IN SCHEMA public TO app_admin');
    await benchDb.end();

    const g = await f.grant();
    for (const mode of ['simple', 'extended']) {
      const r = await libpq('pgbench', ['-n', '-M', mode, '-c', '2', '-t', '20'], {
        ...conn(g),
        database: db,
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('number of transactions actually processed: 40/40');
    }
    const log = await f.statementLog(g.requestId);
    const updates = log.entries.filter((e) => e.statement.startsWith('UPDATE pgbench_accounts'));
    // 40 transactions per mode, one accounts update each; simple ones carry their values inline.
    expect(updates.filter((e) => e.protocol === 'simple')).toHaveLength(40);
    const extended = updates.filter((e) => e.protocol === 'extended');
    expect(extended).toHaveLength(40);
    for (const e of extended) {
      expect(e.rows).toBe(1);
      expect(e.parameters).toHaveLength(2);
      expect(e.parameters?.every((p) => typeof p === 'object' && p !== null && 'bytes' in p)).toBe(true);
    }
  });
});
