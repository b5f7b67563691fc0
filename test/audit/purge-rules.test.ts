import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditPurge } from '../../src/audit/audit-purge.js';
import { recordRetention } from '../../src/audit/audit-retention.js';
import { canonicalize } from '../../src/audit/log/jcs.js';
import { leafHash } from '../../src/audit/log/merkle.js';
import { run } from '../cli/support.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';

const DAY = 86_400_000;

/**
 * Issue 20: purges could be aimed at anything. A purge never covers events younger than the retention in force
 * when it ran (itself an event of the signed trail), nor events a hold keeps; every verifier flags a purge event
 * whose range breaks that rule. Against the running server, on both stores.
 */
describe.each(STORE_KINDS)('purge rules on %s', (kind) => {
  let h: Harness;
  const dirs: string[] = [];
  afterEach(async () => {
    await h?.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function setup(): Promise<string> {
    h = await createHarness(kind, { stepUp: false, start: false });
    for (const reason of ['INC-1', 'INC-2', 'INC-3']) {
      const r = await h.as('alice').post('/v1/requests', { resource: 'prod-db', role: 'admin', reason });
      await h.as('carol').post(`/v1/requests/${r.body.id}/deny`, { comment: 'not now' });
    }
    expect((await h.stint.audit.log.build({ checkpoint: true }))?.size).toBe(6);
    return h.app.listen({ port: 0, host: '127.0.0.1' });
  }

  const events = async () =>
    (
      await h.testStore.store.db.selectFrom('audit_events').select(['seq', 'body']).orderBy('seq').execute()
    ).map((r) => (r.body ? JSON.parse(r.body) : null));
  const serverVerify = async () => (await h.as('erin').post('/v1/audit/verify')).body;
  const cliVerify = (url: string) =>
    run([
      '--url',
      url,
      '--token',
      h.tokens.erin ?? '',
      'audit',
      'verify',
      '--key',
      h.auditSigner.vkey,
      '--state',
      join(tmp(), 'state.json'),
      '--json',
    ]);
  function tmp(): string {
    const d = mkdtempSync(join(tmpdir(), 'stint-purge-rules-'));
    dirs.push(d);
    return d;
  }

  it('the purge records the retention in force first, and never covers an event a hold keeps', async () => {
    await setup();
    const db = h.testStore.store.db;
    const purge = createAuditPurge({
      store: h.testStore.store,
      writer: h.stint.audit.writer,
      clock: () => new Date(Date.now() + 800 * DAY),
      retentionDays: 730,
      holds: [{ name: 'open review', firstHeld: async (_db, r) => (r.start <= 3 && r.end > 3 ? 3 : null) }],
    });
    expect(await purge()).toMatchObject({ purged: 5, batches: 2 });
    const all = await events();
    // The held event keeps its body; the purge goes on after it under a purge event of its own.
    expect(all.slice(0, 6).map((e) => e === null)).toEqual([true, true, true, false, true, true]);
    expect(all.slice(6)).toMatchObject([
      { action: 'audit.retention', actor: 'stint', details: { retentionDays: 730, previous: null } },
      { action: 'audit.purged', details: { retentionDays: 730, events: 3, range: { start: 0, end: 3 } } },
      { action: 'audit.purged', details: { retentionDays: 730, events: 2, range: { start: 4, end: 6 } } },
    ]);
    await h.stint.audit.log.build({ checkpoint: true });
    expect(await serverVerify()).toMatchObject({ ok: true, size: 9 });
    // A later change of retention is recorded once, with what it replaced.
    expect(await recordRetention(h.stint.audit.writer, db, new Date(), 800)).toBe(true);
    expect(await recordRetention(h.stint.audit.writer, db, new Date(), 800)).toBe(false);
    expect((await events()).at(-1)).toMatchObject({
      action: 'audit.retention',
      details: { retentionDays: 800, previous: 730 },
    });
  });

  it('a purge event the server was made to aim at young events is flagged by every verifier', async () => {
    const url = await setup();
    const now = new Date();
    // Recorded through the server's own writer (so it carries a MAC and gets signed): a purge of events
    // minutes old, claiming a cutoff two years back. Their bodies stay (the database refuses to blank them).
    await h.stint.audit.writer.append(h.testStore.store.db, {
      at: now,
      actor: 'stint',
      action: 'audit.purged',
      requestId: null,
      details: {
        before: new Date(now.getTime() - 730 * DAY).toISOString(),
        events: 6,
        retentionDays: 730,
        range: { start: 0, end: 6 },
      },
    });
    expect((await h.stint.audit.log.build({ checkpoint: true }))?.size).toBe(7);
    expect(await serverVerify()).toMatchObject({
      ok: false,
      problem: { code: 'BAD_PURGE', index: 6 },
    });
    expect((await serverVerify()).problem.message).toMatch(/range reaches event 0, younger than its cutoff/);
    const cli = await cliVerify(url);
    expect(cli.code).toBe(1);
    expect(JSON.parse(cli.stdout)).toMatchObject({ ok: false, problem: { code: 'BAD_PURGE', index: 6 } });
    const today = now.toISOString().slice(0, 10);
    const out = join(tmp(), 'export');
    const exported = await run([
      '--url',
      url,
      '--token',
      h.tokens.erin ?? '',
      'audit',
      'export',
      '--since',
      today,
      '--until',
      today,
      '--key',
      h.auditSigner.vkey,
      out,
    ]);
    expect(exported.code).toBe(1);
    expect(exported.stdout).toMatch(/BAD_PURGE at event 6/);
    const offline = await run(['audit', 'verify', '--offline', out, '--key', h.auditSigner.vkey]);
    expect(offline.code).toBe(1);
    expect(offline.stdout).toMatch(/^FAILED: BAD_PURGE at event 6/);
  });

  it('a purge event forged in the store claiming less than the retention in force is flagged', async () => {
    const url = await setup();
    const db = h.testStore.store.db;
    await recordRetention(h.stint.audit.writer, db, new Date(), 730);
    expect((await h.stint.audit.log.build({ checkpoint: true }))?.size).toBe(7);
    // A store writer's purge, 400 days on: the events are older than the 365 days it claims, not the 730 in force.
    const time = new Date(Date.now() + 400 * DAY);
    const head = await db.selectFrom('audit_head').select('size').executeTakeFirstOrThrow();
    const seq = Number(head.size);
    const body = canonicalize({
      v: 1,
      seq,
      id: randomUUID(),
      time: time.toISOString(),
      actor: 'stint',
      action: 'audit.purged',
      result: 'success',
      requestId: null,
      target: null,
      reason: null,
      source: null,
      details: {
        before: new Date(time.getTime() - 365 * DAY).toISOString(),
        events: 6,
        retentionDays: 365,
        range: { start: 0, end: 6 },
      },
    });
    await db
      .insertInto('audit_events')
      .values({
        seq,
        id: randomUUID(),
        at: time.getTime(),
        actor: 'stint',
        action: 'audit.purged',
        request_id: null,
        body,
        leaf_hash: leafHash(body),
      })
      .execute();
    await sql`UPDATE audit_head SET size = size + 1`.execute(db);
    const report = await serverVerify();
    expect(report).toMatchObject({ ok: false, problem: { code: 'BAD_PURGE', index: seq } });
    expect(report.problem.message).toMatch(/claims a retention of 365 days but 730 were in force/);
    const cli = await cliVerify(url);
    expect(cli.code).toBe(1);
    expect(JSON.parse(cli.stdout)).toMatchObject({ ok: false, problem: { code: 'BAD_PURGE', index: seq } });
  });
});
