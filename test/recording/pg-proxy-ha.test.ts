import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recordingStore } from '../../src/recording/recording-store.js';
import { recordingDb } from '../../src/recording/recording-tables.js';
import { waitFor } from '../support/pg-client.js';
import { type PgProxyFixture, startPgFixture } from './pg-fixture.js';

/**
 * A PostgreSQL session ends when its grant does, on whichever server the grant ends: the revoke is made on one
 * server (A, no proxy) and the session runs through the proxy of another (B), both on one PostgreSQL store.
 */
const cluster = inject('pgCluster');
let a: PgProxyFixture;
let b: PgProxyFixture;
beforeAll(async () => {
  a = await startPgFixture(cluster, { store: 'postgresql', withProxy: false });
  b = await startPgFixture(cluster, { store: 'postgresql', beside: a });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

describe('across servers', () => {
  it('ends a session through B at a revoke made on A, with 57P01', async () => {
    const g = await b.grant();
    const c = await b.connect(g);
    expect((await c.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    const sleeping = c.query('SELECT pg_sleep(60)').catch((e: { code?: string }) => e);
    await waitFor(async () => b.rec.pgProxy()?.sessions().length === 1);
    const revoked = await a.h.as('sam').post(`/v1/requests/${g.requestId}/revoke`, {});
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    expect(((await sleeping) as { code?: string }).code).toBe('57P01');
    await c.end().catch(() => {});
    const ended = await waitFor(async () =>
      (await b.events(g.requestId)).find((e) => e.action === 'session.ended'),
    );
    expect(ended.details.reason).toBe('grant revoked');
    const [session] = await recordingStore.listSessions(recordingDb(a.h.stint.deps.store.db), {
      requestId: g.requestId,
      limit: 1,
    });
    expect(session).toMatchObject({ protocol: 'postgres', end_reason: 'grant revoked' });
    // The statement log B made plays on A (recordings in the store).
    const log = await a.statementLog(g.requestId);
    expect(log.entries.map((e) => e.statement)).toEqual(['SELECT 1 AS one', 'SELECT pg_sleep(60)']);
  });
});
