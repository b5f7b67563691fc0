import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createStint, type Stint } from '../../src/app/stint.js';
import { checkpointFileName } from '../../src/audit/checkpoint-files.js';
import { Frontier } from '../../src/audit/log/frontier.js';
import { canonicalize } from '../../src/audit/log/jcs.js';
import { leafHash, rootPlan } from '../../src/audit/log/merkle.js';
import { silentLogger } from '../../src/logger.js';
import { createProvider } from '../../src/providers/registry.js';
import type { Database } from '../../src/store/schema.js';
import { createHarness, type Harness } from '../support/harness.js';
import { waitFor } from '../support/pg-client.js';
import { STORE_KINDS } from '../support/stores.js';

/**
 * Issue 20: the builder checked leaf MACs only on the leaves it folded itself. A store writer who appends a
 * MAC-less event AND folds it into the tree (audit_tree.built and the stored nodes, consistently) left it
 * nothing to fold, so it signed the forged leaf and every public verifier passed it. Attacks as a store writer
 * (plain SQL on the store) against the running server, on both stores.
 */
describe.each(STORE_KINDS)('the leaf MAC gate cannot be skipped on %s', (kind) => {
  let h: Harness;
  const extra: Stint[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const s of extra.splice(0)) await s.stop();
    await h?.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function setup(): Promise<void> {
    h = await createHarness(kind, { stepUp: false });
    for (const reason of ['INC-1', 'INC-2', 'INC-3']) {
      const r = await h.as('alice').post('/v1/requests', { resource: 'prod-db', role: 'admin', reason });
      await h.as('carol').post(`/v1/requests/${r.body.id}/deny`, { comment: 'not now' });
    }
    expect((await h.stint.audit.log.build({ checkpoint: true }))?.size).toBe(6);
  }

  /**
   * One transaction, so the running builder never sees the leaf unfolded: a MAC-less event at the head, the
   * head moved on, the tree's nodes computed and stored exactly as the builder would, and `built` advanced.
   */
  async function appendAndFoldForged(): Promise<number> {
    return h.testStore.store.db.transaction().execute(async (trx) => {
      const db = trx as unknown as Kysely<Database>;
      const head = await db.selectFrom('audit_head').select('size').executeTakeFirstOrThrow();
      const seq = Number(head.size);
      const body = canonicalize({
        v: 1,
        seq,
        id: randomUUID(),
        time: new Date().toISOString(),
        actor: 'carol',
        action: 'request.approved',
        result: 'success',
        requestId: null,
        target: null,
        reason: null,
        source: null,
        details: { comment: 'ok', approvers: ['carol'] },
      });
      const leaf = leafHash(body);
      await db
        .insertInto('audit_events')
        .values({
          seq,
          id: randomUUID(),
          at: Date.now(),
          actor: 'carol',
          action: 'request.approved',
          request_id: null,
          body,
          leaf_hash: leaf,
        })
        .execute();
      await sql`UPDATE audit_head SET size = size + 1`.execute(db);
      const plan = rootPlan(seq);
      const stored = await db
        .selectFrom('audit_nodes')
        .select(['level', 'idx', 'hash'])
        .execute()
        .then((rows) => new Map(rows.map((r) => [`${r.level}/${Number(r.idx)}`, new Uint8Array(r.hash)])));
      const leaves = await db
        .selectFrom('audit_events')
        .select(['seq', 'leaf_hash'])
        .execute()
        .then((rows) => new Map(rows.map((r) => [`0/${Number(r.seq)}`, new Uint8Array(r.leaf_hash)])));
      const frontier = Frontier.restore(
        seq,
        plan.map((n) => {
          const key = `${n.level}/${n.index}`;
          return (n.level === 0 ? leaves.get(key) : stored.get(key)) as Uint8Array;
        }),
      );
      const nodes: { level: number; idx: number; hash: Buffer }[] = [];
      frontier.append(leaf, (node, hash) => {
        if (node.level > 0) nodes.push({ level: node.level, idx: node.index, hash: Buffer.from(hash) });
      });
      if (nodes.length > 0) await db.insertInto('audit_nodes').values(nodes).execute();
      await sql`UPDATE audit_tree SET built = ${seq + 1}`.execute(db);
      return seq;
    });
  }

  const signedAt = async (size: number) =>
    (await h.testStore.store.db
      .selectFrom('audit_checkpoints')
      .select('size')
      .where('size', '=', size)
      .executeTakeFirst()) !== undefined;

  async function expectFailedClosed(forged: number): Promise<void> {
    expect(await signedAt(forged + 1)).toBe(false);
    expect(existsSync(join(h.checkpointDir, checkpointFileName(forged + 1)))).toBe(false);
    expect(h.stint.audit.trail.status()).toMatchObject({ healthy: false, code: 'FORGED' });
    expect(h.stint.audit.trail.status().message).toMatch(new RegExp(`leaf ${forged} has no MAC`));
    expect((await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    const refused = await h
      .as('alice')
      .post('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-7' });
    expect(refused.body.error.code).toBe('AUDIT_UNAVAILABLE');
    // The server's own check names the leaf too.
    expect((await h.as('erin').post('/v1/audit/verify')).body.problem).toMatchObject({
      code: 'FORGED',
      index: forged,
    });
  }

  it('a forged leaf folded by the store writer is never signed by the running builder', async () => {
    await setup();
    const forged = await appendAndFoldForged();
    expect(forged).toBe(6);
    // The running server's builder turn (every 200 ms here) would sign it as soon as a checkpoint is due.
    // Waits for the builder to sign or refuse.
    await waitFor(async () => (await signedAt(forged + 1)) || !h.stint.audit.trail.status().healthy);
    await expectFailedClosed(forged);
  });

  it.runIf(kind === 'postgresql')('… by any of several servers sharing the store', async () => {
    await setup();
    // A second server on the same store and key, with a WORM folder of its own that is still empty: a start its
    // operator must accept the rollback risk for (rollback-guard.ts), and the weakest server the gate must hold.
    const dir = mkdtempSync(join(tmpdir(), 'stint-checkpoints-b-'));
    dirs.push(dir);
    const other = createStint({
      store: h.testStore.store,
      storeId: h.storeId,
      policy: h.stint.deps.policy,
      providerFactory: (r, owner) => createProvider(r, h.env, { owner }),
      secrets: h.stint.deps.secrets,
      logger: silentLogger,
      audit: {
        signers: [h.auditSigner],
        checkpointDir: dir,
        checkpointIntervalMs: 200,
        acceptRollbackRisk: true,
      },
    });
    extra.push(other);
    await other.start();
    const forged = await appendAndFoldForged();
    // Waits for both servers to refuse (or one to sign, which the assertions below then catch).
    await waitFor(async () => {
      if (await signedAt(forged + 1)) return true;
      return !h.stint.audit.trail.status().healthy && !other.audit.trail.status().healthy;
    }, 30_000);
    expect(await signedAt(forged + 1)).toBe(false);
    for (const s of [h.stint, other]) {
      expect(s.audit.trail.status()).toMatchObject({ healthy: false, code: 'FORGED' });
    }
    expect(existsSync(join(dir, checkpointFileName(forged + 1)))).toBe(false);
  });

  it('… nor on demand: security asking for a checkpoint of that size is refused', async () => {
    await setup();
    await h.stint.stop();
    const forged = await appendAndFoldForged();
    const res = await h.as('sam').post('/v1/audit/checkpoints', { size: forged + 1 });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('AUDIT_UNAVAILABLE');
    await expect(h.stint.audit.log.build({ checkpoint: true })).rejects.toThrow(/leaf 6 has no MAC/);
    await expectFailedClosed(forged);
  });
});
