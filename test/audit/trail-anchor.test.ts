import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createStint, type Stint } from '../../src/app/stint.js';
import type { AuditOptions } from '../../src/audit/audit-module.js';
import { signCheckpoint } from '../../src/audit/log/checkpoint.js';
import { parseWitnessVkey } from '../../src/audit/witness/cosignature.js';
import type { Logger } from '../../src/logger.js';
import { createProvider } from '../../src/providers/registry.js';
import type { StintDatabase } from '../../src/store/database.js';
import { run } from '../cli/support.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';
import { startTestWitness } from '../support/witness.js';

/** Log lines as a list, to count alerts. */
function recordingLogger() {
  const lines: { level: string; obj: object; msg: string | undefined }[] = [];
  const logger: Logger = {
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
  return { logger, lines };
}

async function until(what: string, check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * The attacks a database administrator can make on the trail's anchors: roll the store back (with the WORM
 * checkpoint folder intact), regrow it so the server signs a fork, or break it so the builder cannot go on.
 * Each on both stores, against the real server.
 */
describe.each(STORE_KINDS)('audit trail anchors on %s', (kind) => {
  let h: Harness;
  const extra: Stint[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const s of extra.splice(0)) await s.stop();
    await h?.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function requests(...reasons: string[]): Promise<void> {
    for (const reason of reasons) {
      const r = await h.as('alice').post('/v1/requests', { resource: 'prod-db', role: 'admin', reason });
      expect(r.status).toBe(201);
      const d = await h.as('carol').post(`/v1/requests/${r.body.id}/deny`, { comment: 'not now' });
      expect(d.status).toBe(200);
    }
  }

  async function disableGuards(store: StintDatabase): Promise<void> {
    if (kind === 'sqlite') {
      for (const t of ['audit_events_no_update', 'audit_events_no_delete', 'audit_nodes_no_delete']) {
        await sql.raw(`DROP TRIGGER ${t}`).execute(store.db);
      }
      await sql`DROP TRIGGER audit_checkpoints_no_delete`.execute(store.db);
    } else {
      for (const t of ['audit_events', 'audit_nodes', 'audit_checkpoints']) {
        await sql.raw(`ALTER TABLE ${t} DISABLE TRIGGER USER`).execute(store.db);
      }
    }
  }

  /** The audit tables restored as they were at `size` events (a backup), checkpoints included. */
  async function rollBack(store: StintDatabase, size: number): Promise<void> {
    await disableGuards(store);
    await sql`DELETE FROM audit_events WHERE seq >= ${size}`.execute(store.db);
    await sql`DELETE FROM audit_checkpoints WHERE size > ${size}`.execute(store.db);
    await sql`DELETE FROM audit_nodes WHERE (idx + 1) * (1 << level) > ${size}`.execute(store.db);
    await sql`UPDATE audit_head SET size = ${size}`.execute(store.db);
    await sql`UPDATE audit_tree SET built = ${size}`.execute(store.db);
  }

  /** The files of the WORM folder with their content. */
  function wormFiles(): Map<string, string> {
    return new Map(
      readdirSync(h.checkpointDir)
        .sort()
        .map((f) => [f, readFileSync(join(h.checkpointDir, f), 'utf8')]),
    );
  }

  /** A second server process on the same store and WORM folder (a restart). */
  function restart(logger: Logger = recordingLogger().logger, audit: Partial<AuditOptions> = {}): Stint {
    const stint = createStint({
      store: h.testStore.store,
      storeId: h.storeId,
      policy: h.stint.deps.policy,
      providerFactory: (r, owner) => createProvider(r, h.env, { owner }),
      secrets: h.stint.deps.secrets,
      logger,
      audit: {
        signers: [h.auditSigner],
        checkpointDir: h.checkpointDir,
        checkpointIntervalMs: 200,
        ...audit,
      },
    });
    extra.push(stint);
    return stint;
  }

  /** Six events signed at 6, two more signed at 8: the WORM folder holds both. */
  async function history(): Promise<void> {
    h = await createHarness(kind, { stepUp: false, start: false });
    await requests('INC-1', 'INC-2', 'INC-3');
    expect((await h.stint.audit.log.build({ checkpoint: true }))?.size).toBe(6);
    await requests('INC-4');
    expect((await h.stint.audit.log.build({ checkpoint: true }))?.size).toBe(8);
    expect([...wormFiles().keys()]).toEqual(['checkpoint-000000000006.txt', 'checkpoint-000000000008.txt']);
  }

  const forgedEvents = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      at: new Date(),
      actor: 'mallory',
      action: 'request.created',
      requestId: null,
      details: { forged: i },
    }));

  it('a rollback regrown on a running server: the WORM files are never replaced and no fork is signed', async () => {
    await history();
    const before = wormFiles();
    await rollBack(h.testStore.store, 6);
    // The log regrows past the WORM folder's newest checkpoint with other events.
    await h.stint.audit.writer.append(h.testStore.store.db, forgedEvents(2));
    await expect(h.stint.audit.log.build({ checkpoint: true })).rejects.toMatchObject({
      code: 'FORK',
      message: expect.stringMatching(/checkpoint 8/),
    });
    const after = wormFiles();
    for (const [name, text] of before) expect(after.get(name), name).toBe(text);
    expect([...after.keys()].filter((f) => !before.has(f))).toEqual([]);
    const signed = await h.testStore.store.db.selectFrom('audit_checkpoints').select('size').execute();
    expect(signed.map((c) => Number(c.size)).sort((a, b) => a - b)).toEqual([6]);
  });

  it('a rollback regrown while the server was down: the restarted server refuses to sign or serve', async () => {
    await history();
    const before = wormFiles();
    await rollBack(h.testStore.store, 6);
    await h.stint.audit.writer.append(h.testStore.store.db, forgedEvents(4));
    const next = restart();
    await expect(next.start()).rejects.toThrow(/fork/i);
    await expect(next.audit.log.build({ checkpoint: true })).rejects.toMatchObject({ code: 'FORK' });
    expect(wormFiles()).toEqual(before);
  });

  it('a WORM file of the same size with another checkpoint in it: a fork, refused and reported', async () => {
    h = await createHarness(kind, { stepUp: false, start: false });
    await requests('INC-1');
    const first = await h.stint.audit.log.build({ checkpoint: true });
    expect(first?.size).toBe(2);
    const file = join(h.checkpointDir, 'checkpoint-000000000002.txt');
    const original = readFileSync(file, 'utf8');
    // Signing the same checkpoint again (an export's checkpoint at a past size) is no conflict.
    await expect(h.stint.audit.log.signAt(2)).resolves.toMatchObject({ size: 2 });
    expect(readFileSync(file, 'utf8')).toBe(original);
    // Another checkpoint of size 4 already in the folder (another server's fork): the file stays, none is signed.
    const planted = join(h.checkpointDir, 'checkpoint-000000000004.txt');
    const forged = signCheckpoint(
      { origin: h.auditSigner.name, size: 4, rootHash: new Uint8Array(32).fill(7) },
      [h.auditSigner],
    );
    writeFileSync(planted, forged);
    await requests('INC-2');
    await expect(h.stint.audit.log.build({ checkpoint: true })).rejects.toMatchObject({ code: 'FORK' });
    expect(readFileSync(planted, 'utf8')).toBe(forged);
    const signed = await h.testStore.store.db.selectFrom('audit_checkpoints').select('size').execute();
    expect(signed.map((c) => Number(c.size))).toEqual([2]);
    expect(h.stint.audit.trail.status()).toMatchObject({ healthy: false, code: 'FORK' });
  });

  it('a store rolled back under a running server: not ready, writes refused, and the CLI sees MISSING', async () => {
    const { logger, lines } = recordingLogger();
    h = await createHarness(kind, { stepUp: false, start: false, logger });
    await requests('INC-1', 'INC-2', 'INC-3');
    await h.stint.audit.log.build({ checkpoint: true });
    await requests('INC-4');
    expect((await h.stint.audit.log.build({ checkpoint: true }))?.size).toBe(8);
    await h.stint.start();
    expect((await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);

    await rollBack(h.testStore.store, 6);
    await until('the server to notice the rollback', async () => {
      return (await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode === 503;
    });
    const refused = await h
      .as('alice')
      .post('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-5' });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('AUDIT_UNAVAILABLE');
    expect(refused.body.error.message).toMatch(/6 events.*checkpoint 8|checkpoint 8.*6 events/);
    const head = await h.testStore.store.db.selectFrom('audit_head').select('size').executeTakeFirstOrThrow();
    expect(Number(head.size)).toBe(6);
    // One alert for the change of state, however many build turns pass.
    await new Promise((r) => setTimeout(r, 800));
    // Every error line, not only the alert: no other line repeats on each build turn either.
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors.map((l) => l.msg)).toEqual([expect.stringMatching(/^audit trail broken \(ROLLBACK\)/)]);
    expect(h.stint.audit.trail.status()).toMatchObject({ healthy: false, code: 'ROLLBACK', failures: 1 });

    expect((await h.as('erin').post('/v1/audit/verify')).body).toMatchObject({
      ok: false,
      problem: { code: 'MISSING', checkpointSize: 8 },
    });
    const url = await h.app.listen({ port: 0, host: '127.0.0.1' });
    const dir = mkdtempSync(join(tmpdir(), 'stint-anchor-'));
    dirs.push(dir);
    const cli = (...argv: string[]) => run(['--url', url, '--token', h.tokens.erin ?? '', ...argv]);
    const verified = await cli(
      'audit',
      'verify',
      '--key',
      h.auditSigner.vkey,
      '--state',
      join(dir, 's.json'),
    );
    expect(verified.code).toBe(1);
    expect(verified.stdout).toMatch(/^FAILED: MISSING at event 6: /);
    const today = new Date().toISOString().slice(0, 10);
    const exported = await cli(
      'audit',
      'export',
      '--since',
      today,
      '--until',
      today,
      '--key',
      h.auditSigner.vkey,
      join(dir, 'export'),
    );
    expect(exported.code).toBe(1);
    expect(exported.stdout + exported.stderr).toMatch(/MISSING/);
  });

  it('a store rolled back while the server was down: it refuses to start, naming both sizes', async () => {
    await history();
    await rollBack(h.testStore.store, 6);
    await expect(restart().start()).rejects.toThrow(
      /audit store holds 6 events but checkpoint 8 .*was signed/,
    );
  });

  it('a store rolled back with its WORM folder removed and no witness: refused unless the risk is accepted', async () => {
    await history();
    await rollBack(h.testStore.store, 6);
    const gone = mkdtempSync(join(tmpdir(), 'stint-worm-gone-'));
    dirs.push(gone);
    // Nothing outside the store remembers checkpoint 8: without this refusal the restart signs on from 6.
    await expect(restart(undefined, { checkpointDir: gone }).start()).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(
        /WORM checkpoint folder .* holds none and no witness is configured.*STINT_AUDIT_ACCEPT_ROLLBACK_RISK=true/,
      ),
    });
    await expect(restart(undefined, { checkpointDir: join(gone, 'missing') }).start()).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
    expect(readdirSync(gone)).toEqual([]);
    // Told to accept the risk, it starts (and the rollback goes unseen: that is the risk).
    await restart(undefined, { checkpointDir: gone, acceptRollbackRisk: true }).start();
  });

  it('a witness stands in for the WORM folder; a store with nothing signed yet starts without either', async () => {
    await history();
    const gone = mkdtempSync(join(tmpdir(), 'stint-worm-gone-'));
    dirs.push(gone);
    const w = await startTestWitness({ name: 'witness.test/w1' });
    try {
      const witness = { verifier: parseWitnessVkey(w.vkey), url: w.url };
      await restart(undefined, { checkpointDir: gone, witnesses: [witness] }).start();
    } finally {
      await w.close();
    }

    const fresh = await createHarness(kind, { stepUp: false, start: false });
    try {
      const empty = mkdtempSync(join(tmpdir(), 'stint-worm-new-'));
      dirs.push(empty);
      const stint = createStint({
        store: fresh.testStore.store,
        storeId: fresh.storeId,
        policy: fresh.stint.deps.policy,
        providerFactory: (r, owner) => createProvider(r, fresh.env, { owner }),
        secrets: fresh.stint.deps.secrets,
        logger: recordingLogger().logger,
        audit: { signers: [fresh.auditSigner], checkpointDir: empty, checkpointIntervalMs: 200 },
      });
      extra.push(stint);
      await stint.start();
    } finally {
      for (const s of extra.splice(0)) await s.stop();
      await fresh.close();
    }
  });

  it('leaves that are not contiguous: fail closed (not ready, writes refused) until fixed, one alert', async () => {
    const { logger, lines } = recordingLogger();
    h = await createHarness(kind, { stepUp: false, start: false, logger });
    await requests('INC-1');
    await h.stint.audit.log.build({ checkpoint: true });
    await requests('INC-2', 'INC-3');
    const store = h.testStore.store;
    await disableGuards(store);
    const removed = await store.db
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '=', 3)
      .executeTakeFirstOrThrow();
    await sql`DELETE FROM audit_events WHERE seq = 3`.execute(store.db);
    await h.stint.start();
    await until('the builder to stop', async () => {
      return (await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode === 503;
    });
    const r = await h.as('alice').post('/v1/requests', { resource: 'staging-db', role: 'read', reason: 'x' });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('AUDIT_UNAVAILABLE');
    expect(await store.db.selectFrom('requests').select('id').execute()).toHaveLength(3);
    // Past the API (a job, or a caller inside the server): an approved request is not activated either.
    const actor = { userId: 'alice', security: false, admin: false, auditor: false };
    await expect(
      h.stint.requests.service.create(actor, { resource: 'staging-db', role: 'read', reason: 'x' }),
    ).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
    expect(await store.db.selectFrom('grants').select('request_id').execute()).toHaveLength(0);
    expect(await h.stint.sweep()).toBeUndefined();
    const states = await store.db.selectFrom('requests').select('state').execute();
    expect(states.map((r) => r.state).sort()).toEqual(['approved', 'denied', 'denied', 'denied']);
    // Reads and the auditor's own check go on.
    expect((await h.as('erin').get('/v1/audit/events')).status).toBe(200);
    expect((await h.as('erin').post('/v1/audit/verify')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 800));
    const alerts = () => lines.filter((l) => l.level === 'error' || /audit trail/i.test(l.msg ?? ''));
    expect(alerts().map((l) => l.level)).toEqual(['error']);
    expect(alerts()[0]?.msg).toMatch(/^audit trail broken \(NOT_CONTIGUOUS\)/);
    expect(h.stint.audit.trail.status()).toMatchObject({ healthy: false, code: 'NOT_CONTIGUOUS' });

    // The row restored from a backup: the builder goes on, and so does the server.
    await store.db.insertInto('audit_events').values(removed).execute();
    await until('the builder to recover', async () => {
      return (await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200;
    });
    const ok = await h
      .as('alice')
      .post('/v1/requests', { resource: 'staging-db', role: 'read', reason: 'x' });
    expect(ok.status).toBe(201);
    expect(alerts().map((l) => l.level)).toEqual(['error', 'info']);
    expect(h.stint.audit.trail.status()).toMatchObject({ healthy: true, failures: 1 });
  });
});
