import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditPurge } from '../../src/audit/audit-purge.js';
import { canonicalize } from '../../src/audit/log/jcs.js';
import { leafHash } from '../../src/audit/log/merkle.js';
import type { StintDatabase } from '../../src/store/database.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

/**
 * The four attacks of a DBA with full access — change a byte, delete a row, swap two rows, roll the whole trail
 * back — each on both stores. The database refuses the plain UPDATE/DELETE; an attacker who switches the
 * triggers off is still caught by verification, which names the place.
 */
describe.each(STORE_KINDS)('audit trail tampering on %s', (kind) => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  async function setup(): Promise<StintDatabase> {
    h = await createHarness(kind, { stepUp: false });
    for (const reason of ['INC-1', 'INC-2', 'INC-3']) {
      const r = await h.as('alice').post('/v1/requests', { resource: 'prod-db', role: 'admin', reason });
      await h.as('carol').post(`/v1/requests/${r.body.id}/deny`, { comment: 'not now' });
    }
    await h.stint.audit.log.build({ checkpoint: true });
    return h.testStore.store;
  }

  const verify = async () => (await h.as('erin').post('/v1/audit/verify')).body;

  async function disableGuards(store: StintDatabase): Promise<void> {
    if (kind === 'sqlite') {
      await sql`DROP TRIGGER audit_events_no_update`.execute(store.db);
      await sql`DROP TRIGGER audit_events_no_delete`.execute(store.db);
      await sql`DROP TRIGGER audit_nodes_no_delete`.execute(store.db);
      await sql`DROP TRIGGER audit_checkpoints_no_delete`.execute(store.db);
    } else {
      for (const t of ['audit_events', 'audit_nodes', 'audit_checkpoints']) {
        await sql.raw(`ALTER TABLE ${t} DISABLE TRIGGER USER`).execute(store.db);
      }
    }
  }

  it('an untouched trail verifies up to its checkpoint', async () => {
    await setup();
    const report = await verify();
    expect(report).toMatchObject({ ok: true, size: 6 });
  });

  it('the database refuses UPDATE and DELETE on the audit tables', async () => {
    const store = await setup();
    await expect(
      sql`UPDATE audit_events SET actor = 'mallory' WHERE seq = 1`.execute(store.db),
    ).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM audit_events WHERE seq = 1`.execute(store.db)).rejects.toThrow(
      /append-only/,
    );
    await expect(sql`DELETE FROM audit_checkpoints`.execute(store.db)).rejects.toThrow(/append-only/);
    await expect(sql`UPDATE audit_nodes SET level = level`.execute(store.db)).rejects.toThrow(/append-only/);
    if (kind === 'postgresql') {
      await expect(sql`TRUNCATE audit_events`.execute(store.db)).rejects.toThrow(/append-only/);
    }
    expect(await verify()).toMatchObject({ ok: true });
  });

  it('one byte changed in one event: CHANGED at that event', async () => {
    const store = await setup();
    await disableGuards(store);
    await sql`UPDATE audit_events SET body = replace(body, 'INC-2', 'INC-9') WHERE seq = 2`.execute(store.db);
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problem).toMatchObject({ code: 'CHANGED', index: 2 });
  });

  it('one byte changed together with its leaf hash: the signed root no longer matches', async () => {
    const store = await setup();
    await disableGuards(store);
    const { createHash } = await import('node:crypto');
    const row = await store.db
      .selectFrom('audit_events')
      .select('body')
      .where('seq', '=', 2)
      .executeTakeFirstOrThrow();
    const body = (row.body as string).replace('INC-2', 'INC-9');
    const leaf = createHash('sha256')
      .update(Buffer.from([0]))
      .update(body)
      .digest();
    await store.db.updateTable('audit_events').set({ body, leaf_hash: leaf }).where('seq', '=', 2).execute();
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problem.code).toBe('ROOT_MISMATCH');
  });

  it('a row deleted: REMOVED at its place', async () => {
    const store = await setup();
    await disableGuards(store);
    await sql`DELETE FROM audit_events WHERE seq = 3`.execute(store.db);
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problem).toMatchObject({ code: 'REMOVED', index: 3 });
  });

  it('two rows swapped: REORDERED', async () => {
    const store = await setup();
    await disableGuards(store);
    const rows = await store.db
      .selectFrom('audit_events')
      .select(['seq', 'body', 'leaf_hash'])
      .where('seq', 'in', [1, 2])
      .orderBy('seq')
      .execute();
    const [a, b] = rows as [(typeof rows)[0], (typeof rows)[0]];
    await store.db
      .updateTable('audit_events')
      .set({ body: b.body, leaf_hash: b.leaf_hash })
      .where('seq', '=', 1)
      .execute();
    await store.db
      .updateTable('audit_events')
      .set({ body: a.body, leaf_hash: a.leaf_hash })
      .where('seq', '=', 2)
      .execute();
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problem.code).toBe('REORDERED');
    expect(report.problem.index).toBeLessThanOrEqual(2);
  });

  it('the whole trail rolled back to an older state: the WORM checkpoint copy shows events missing', async () => {
    const store = await setup();
    const before = await verify();
    expect(before.size).toBe(6);
    // More history, and a checkpoint of it copied to the WORM folder.
    const r = await h
      .as('alice')
      .post('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-4' });
    const withdrawn = await h.as('alice').post(`/v1/requests/${r.body.id}/withdraw`, {});
    expect(withdrawn.body.state).toBe('withdrawn');
    const cp = await h.stint.audit.log.build({ checkpoint: true });
    const state = async () =>
      JSON.stringify({
        head: await store.db.selectFrom('audit_head').selectAll().execute(),
        tree: await store.db.selectFrom('audit_tree').selectAll().execute(),
        checkpoints: await store.db.selectFrom('audit_checkpoints').select(['size', 'created_at']).execute(),
      });
    expect(cp?.size, await state()).toBe(8);
    expect(await verify()).toMatchObject({ ok: true, size: 8 });
    // The DBA restores the audit tables as they were at 6 events (a backup), checkpoints included.
    await disableGuards(store);
    await sql`DELETE FROM audit_events WHERE seq >= 6`.execute(store.db);
    await sql`DELETE FROM audit_checkpoints WHERE size > 6`.execute(store.db);
    await sql`DELETE FROM audit_nodes WHERE (idx + 1) * (1 << level) > 6`.execute(store.db);
    await sql`UPDATE audit_head SET size = 6`.execute(store.db);
    await sql`UPDATE audit_tree SET built = 6`.execute(store.db);
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problem).toMatchObject({ code: 'MISSING', checkpointSize: 8 });
  });

  /** A store writer's event: canonical body, right seq and leaf hash, the head moved on; only no MAC. */
  async function appendForged(store: StintDatabase, body: Record<string, unknown>): Promise<number> {
    const head = await store.db.selectFrom('audit_head').select('size').executeTakeFirstOrThrow();
    const seq = Number(head.size);
    const text = canonicalize({ ...body, seq });
    await store.db
      .insertInto('audit_events')
      .values({
        seq,
        id: body.id as string,
        at: Date.parse(body.time as string),
        actor: body.actor as string,
        action: body.action as string,
        request_id: (body.requestId as string | null) ?? null,
        body: text,
        leaf_hash: leafHash(text),
      })
      .execute();
    await sql`UPDATE audit_head SET size = size + 1`.execute(store.db);
    return seq;
  }

  const envelope = (action: string, details: Record<string, unknown>, time = new Date()) => ({
    v: 1,
    id: randomUUID(),
    time: time.toISOString(),
    actor: 'carol',
    action,
    result: 'success',
    requestId: null,
    target: null,
    reason: null,
    source: null,
    details,
  });

  it('a body blanked without a recorded purge: the database refuses, and with the guard off verify says ERASED', async () => {
    const store = await setup();
    await expect(sql`UPDATE audit_events SET body = NULL WHERE seq = 2`.execute(store.db)).rejects.toThrow(
      /append-only/,
    );
    await disableGuards(store);
    await sql`UPDATE audit_events SET body = NULL WHERE seq = 2`.execute(store.db);
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problem).toMatchObject({ code: 'ERASED', index: 2 });
  });

  it('a forged event appended by a store writer is never signed, and verify names it FORGED', async () => {
    const store = await setup();
    const forged = await appendForged(
      store,
      envelope('request.approved', { comment: 'ok', approvers: ['carol'] }),
    );
    expect(forged).toBe(6);
    await expect(h.stint.audit.log.build({ checkpoint: true })).rejects.toThrow(/leaf 6 has no MAC/);
    expect((await h.stint.audit.log.latestCheckpoint())?.size).toBe(6);
    // Fail closed, as for a missing leaf: not ready, and state changes refused until the trail is fixed.
    expect(h.stint.audit.trail.status()).toMatchObject({ healthy: false, code: 'FORGED' });
    expect((await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    const refused = await h
      .as('alice')
      .post('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-7' });
    expect(refused.body.error.code).toBe('AUDIT_UNAVAILABLE');
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problem).toMatchObject({ code: 'FORGED', index: 6 });
  });

  it('a leaf MAC copied from another leaf does not verify', async () => {
    const store = await setup();
    const donor = await store.db
      .selectFrom('audit_events')
      .select('leaf_mac')
      .where('seq', '=', 5)
      .executeTakeFirstOrThrow();
    const seq = await appendForged(
      store,
      envelope('request.approved', { comment: 'ok', approvers: ['carol'] }),
    );
    await disableGuards(store);
    await store.db
      .updateTable('audit_events')
      .set({ leaf_mac: donor.leaf_mac })
      .where('seq', '=', seq)
      .execute();
    await expect(h.stint.audit.log.build({ checkpoint: true })).rejects.toThrow(/does not verify/);
    expect((await verify()).problem).toMatchObject({ code: 'FORGED', index: seq });
  });

  it('a purge event forged by a store writer lets no body go unnoticed', async () => {
    const store = await setup();
    const old = new Date(Date.now() + 800 * 86_400_000);
    const before = new Date(old.getTime() - 730 * 86_400_000);
    await appendForged(store, {
      ...envelope(
        'audit.purged',
        {
          before: before.toISOString(),
          events: 6,
          retentionDays: 730,
          range: { start: 0, end: 6 },
        },
        old,
      ),
      actor: 'stint',
    });
    // Only events older than the claimed retention may lose their body, even under a (forged) purge.
    await expect(
      sql`UPDATE audit_events SET body = NULL WHERE seq = 2`.execute(store.db),
    ).resolves.toBeDefined();
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problem).toMatchObject({ code: 'FORGED', index: 6 });
  });

  it('a purge may not blank events younger than its retention', async () => {
    const store = await setup();
    const now = new Date();
    await appendForged(store, {
      ...envelope(
        'audit.purged',
        {
          before: new Date(now.getTime() - 730 * 86_400_000).toISOString(),
          events: 6,
          retentionDays: 730,
          range: { start: 0, end: 6 },
        },
        now,
      ),
      actor: 'stint',
    });
    await expect(sql`UPDATE audit_events SET body = NULL WHERE seq = 2`.execute(store.db)).rejects.toThrow(
      /append-only/,
    );
  });

  it('a large purge goes in batches, each under its own purge event, and the trail still verifies', async () => {
    const store = await setup();
    const purge = createAuditPurge({
      store,
      writer: h.stint.audit.writer,
      clock: () => new Date(Date.now() + 800 * 86_400_000),
      retentionDays: 730,
      batchSize: 4,
    });
    expect(await purge()).toMatchObject({ purged: 6, batches: 2 });
    const rows = await store.db.selectFrom('audit_events').select(['seq', 'body']).orderBy('seq').execute();
    expect(rows.slice(0, 6).every((b) => b.body === null)).toBe(true);
    const events = rows.slice(6).map((r) => JSON.parse(r.body as string));
    expect(events).toMatchObject([
      // The retention in force, recorded before the first purge that runs under it.
      { action: 'audit.retention', details: { retentionDays: 730, previous: null } },
      { action: 'audit.purged', details: { events: 4, range: { start: 0, end: 4 } } },
      { action: 'audit.purged', details: { events: 2, range: { start: 4, end: 6 } } },
    ]);
    expect(await purge()).toMatchObject({ purged: 0, batches: 0 });
    await h.stint.audit.log.build({ checkpoint: true });
    expect(await verify()).toMatchObject({ ok: true, size: 9 });
  });

  it('retention purges bodies but keeps leaf hashes: the trail still verifies, and the purge is recorded', async () => {
    const store = await setup();
    const purge = createAuditPurge({
      store,
      writer: h.stint.audit.writer,
      clock: () => new Date(Date.now() + 800 * 86_400_000),
      retentionDays: 730,
    });
    const { purged } = await purge();
    expect(purged).toBe(6);
    const bodies = await store.db.selectFrom('audit_events').select(['seq', 'body']).orderBy('seq').execute();
    expect(bodies.slice(0, 6).every((b) => b.body === null)).toBe(true);
    expect(JSON.parse(bodies[6]?.body as string)).toMatchObject({ action: 'audit.retention' });
    expect(JSON.parse(bodies[7]?.body as string)).toMatchObject({
      action: 'audit.purged',
      details: { events: 6, range: { start: 0, end: 6 } },
    });
    await h.stint.audit.log.build({ checkpoint: true });
    expect(await verify()).toMatchObject({ ok: true, size: 8 });
    expect(() =>
      createAuditPurge({ store, writer: h.stint.audit.writer, clock: () => new Date(), retentionDays: 100 }),
    ).toThrow(/365/);
  });
});
