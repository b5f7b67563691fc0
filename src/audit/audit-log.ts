import { type Kysely, sql } from 'kysely';
import type { Clock } from '../domain/clock.js';
import type { Logger } from '../logger.js';
import type { StintDatabase } from '../store/database.js';
import type { Database } from '../store/schema.js';
import { createCheckpointAnchor } from './checkpoint-anchor.js';
import { macStart, requireLeafMacs } from './leaf-mac-gate.js';
import { signCheckpoint } from './log/checkpoint.js';
import { Frontier } from './log/frontier.js';
import { leafMacKeys } from './log/leaf-mac.js';
import { type NodeId, rootPlan } from './log/merkle.js';
import type { Ed25519NoteSigner } from './log/signed-note.js';
import { type AsyncNodeSource, consistencyProofAsync, inclusionProofAsync } from './log/tree-store.js';
import { AuditTrailBroken, createTrailHealth, isAuditTrailBroken } from './trail-health.js';
import { trustedRoot } from './trusted-root.js';

/** Leaves folded per build transaction: keeps each one short while catching up after a burst. */
const BUILD_BATCH = 20_000;
/** Any constant works; it names "the audit tree builder" among PostgreSQL advisory locks. */
const BUILDER_LOCK = 0x5717_a0d1;

export interface AuditLogOptions {
  store: StintDatabase;
  clock: Clock;
  logger: Logger;
  /** The log's origin line; every signing key's name must equal it. */
  origin: string;
  /** One key normally; old and new together during a rotation, so each checkpoint carries both signatures. */
  signers: readonly Ed25519NoteSigner[];
  /** Where each checkpoint is also written, for copying to WORM storage (S3 Object Lock …). */
  checkpointDir: string | null;
  /** Minimum time between checkpoints while events arrive. */
  checkpointIntervalMs: number;
}

export interface StoredCheckpoint {
  size: number;
  note: string;
  createdAt: Date;
}

/** Serves stored complete subtrees: leaves from audit_events, higher levels from audit_nodes. */
export function nodeSource(db: Kysely<Database>): AsyncNodeSource {
  return {
    async hashesOf(nodes: readonly NodeId[]) {
      const leaves = nodes.filter((n) => n.level === 0).map((n) => n.index);
      const inner = nodes.filter((n) => n.level > 0);
      const found = new Map<string, Uint8Array>();
      if (leaves.length > 0) {
        const rows = await db
          .selectFrom('audit_events')
          .select(['seq', 'leaf_hash'])
          .where('seq', 'in', leaves)
          .execute();
        for (const r of rows) found.set(`0/${Number(r.seq)}`, r.leaf_hash);
      }
      if (inner.length > 0) {
        const rows = await db
          .selectFrom('audit_nodes')
          .select(['level', 'idx', 'hash'])
          .where((eb) =>
            eb.or(inner.map((n) => eb.and([eb('level', '=', n.level), eb('idx', '=', n.index)]))),
          )
          .execute();
        for (const r of rows) found.set(`${r.level}/${Number(r.idx)}`, r.hash);
      }
      return nodes.map((n) => {
        const hash = found.get(`${n.level}/${n.index}`);
        if (!hash) throw new Error(`audit tree node ${n.level}/${n.index} is not stored`);
        return new Uint8Array(hash);
      });
    },
  };
}

/**
 * Folds recorded events into the Merkle tree in batches and signs checkpoints. Appends only take a leaf index
 * and hash one event; everything O(log n) happens here, off the request path. One builder runs at a time across
 * servers (an advisory lock on PostgreSQL; SQLite has one process).
 */
export function createAuditLog(opts: AuditLogOptions) {
  const db = opts.store.db;
  const source = nodeSource(db);
  const written: string[] = [];
  // Rollbacks, forks and gaps stop the builder; the health says so to the rest of the server (fail closed).
  const anchor = createCheckpointAnchor({
    dir: opts.checkpointDir,
    origin: opts.origin,
    keys: opts.signers.map((s) => s.verifier),
  });
  const health = createTrailHealth(opts.logger);
  const macKeys = leafMacKeys(opts.signers);

  async function latestCheckpoint(): Promise<StoredCheckpoint | null> {
    const row = await db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .orderBy('size', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row
      ? { size: Number(row.size), note: row.note, createdAt: new Date(Number(row.created_at)) }
      : null;
  }

  async function writeCheckpointFile(size: number, note: string, createdAt: Date): Promise<void> {
    const file = await anchor.record(size, note, createdAt);
    if (file) written.push(file);
  }

  /** A broken trail found on a caller's behalf: alerted, then refused with the API's code. */
  function refuse(e: unknown): never {
    if (!isAuditTrailBroken(e)) throw e;
    health.fail(e, opts.clock());
    health.assertWritable();
    throw e;
  }

  /** One build step: fold the next batch, and sign a checkpoint when one is due. Returns the built size. */
  async function buildOnce(
    force: boolean,
    wait: boolean,
  ): Promise<{ built: number; checkpoint: StoredCheckpoint | null }> {
    const result = await db.transaction().execute(async (trx) => {
      if (opts.store.traits.advisoryLocks) {
        // The periodic builder skips a turn while another holds the lock; an explicit build waits for it.
        if (wait) await sql`SELECT pg_advisory_xact_lock(${BUILDER_LOCK})`.execute(trx);
        else {
          const { rows } = await sql<{
            ok: boolean;
          }>`SELECT pg_try_advisory_xact_lock(${BUILDER_LOCK}) AS ok`.execute(trx);
          if (!rows[0]?.ok) return null;
        }
      }
      const head = await trx
        .selectFrom('audit_head')
        .select('size')
        .where('id', '=', 1)
        .executeTakeFirstOrThrow();
      const tree = await trx
        .selectFrom('audit_tree')
        .select('built')
        .where('id', '=', 1)
        .executeTakeFirstOrThrow();
      const size = Number(head.size);
      let built = Number(tree.built);
      const end = Math.min(size, built + BUILD_BATCH);
      if (end > built) {
        const plan = rootPlan(built);
        const frontier = Frontier.restore(
          built,
          await nodeSource(trx as unknown as Kysely<Database>).hashesOf(plan),
        );
        const leaves = await trx
          .selectFrom('audit_events')
          .select(['seq', 'leaf_hash', 'leaf_mac'])
          .where('seq', '>=', built)
          .where('seq', '<', end)
          .orderBy('seq')
          .execute();
        const gap = leaves.findIndex((l, i) => Number(l.seq) !== built + i);
        if (leaves.length !== end - built || gap >= 0) {
          const at = gap >= 0 ? built + gap : built + leaves.length;
          throw new AuditTrailBroken(
            'NOT_CONTIGUOUS',
            `audit event ${at} is missing from the store (leaves ${built}..${end - 1} are not contiguous): the trail was altered`,
          );
        }
        requireLeafMacs(macKeys, await macStart(trx), leaves);
        const nodes: { level: number; idx: number; hash: Uint8Array }[] = [];
        for (const leaf of leaves) {
          frontier.append(new Uint8Array(leaf.leaf_hash), (node, hash) => {
            if (node.level > 0) nodes.push({ level: node.level, idx: node.index, hash: Buffer.from(hash) });
          });
        }
        for (let i = 0; i < nodes.length; i += 5000) {
          await trx
            .insertInto('audit_nodes')
            .values(nodes.slice(i, i + 5000))
            .execute();
        }
        await trx.updateTable('audit_tree').set({ built: end }).where('id', '=', 1).execute();
        built = end;
      }

      const last = await trx
        .selectFrom('audit_checkpoints')
        .select(['size', 'created_at', 'note'])
        .orderBy('size', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (last) anchor.observe(last.note, new Date(Number(last.created_at)));
      await anchor.check(size, built, (at) => rootAt(trx as unknown as Kysely<Database>, at));
      const now = opts.clock();
      const lastSize = last ? Number(last.size) : -1;
      const due = force || !last || now.getTime() - Number(last.created_at) >= opts.checkpointIntervalMs;
      if (built <= lastSize || !due || opts.signers.length === 0) return { built, checkpoint: null };
      const rootHash = await signableRoot(trx as unknown as Kysely<Database>, built);
      await anchor.beforeSign(built, rootHash);
      const note = signCheckpoint({ origin: opts.origin, size: built, rootHash }, opts.signers);
      await trx
        .insertInto('audit_checkpoints')
        .values({ size: built, root: Buffer.from(rootHash), note, created_at: now.getTime() })
        .execute();
      return { built, checkpoint: { size: built, note, createdAt: now } };
    });
    if (result?.checkpoint) {
      await writeCheckpointFile(result.checkpoint.size, result.checkpoint.note, result.checkpoint.createdAt);
    }
    return result ?? { built: -1, checkpoint: null };
  }

  /**
   * Folds until the tree reaches the head. `checked` is false when another server held the builder lock, so
   * this turn saw nothing and proves nothing about the trail's health.
   */
  async function buildAll(options: {
    checkpoint?: boolean;
    wait?: boolean;
  }): Promise<{ checkpoint: StoredCheckpoint | null; checked: boolean }> {
    const wait = options.checkpoint === true || options.wait === true;
    let step = await buildOnce(false, wait);
    for (let guard = 0; guard < 10_000; guard++) {
      const head = await db
        .selectFrom('audit_head')
        .select('size')
        .where('id', '=', 1)
        .executeTakeFirstOrThrow();
      if (step.built < 0 || step.built >= Number(head.size)) break;
      step = await buildOnce(false, wait);
    }
    if (options.checkpoint) step = await buildOnce(true, true);
    return { checkpoint: step.checkpoint ?? (await latestCheckpoint()), checked: step.built >= 0 };
  }

  /** The root at `size`, checked against what this server holds outside the store (trusted-root.ts). */
  const signableRoot = (from: Kysely<Database>, size: number): Promise<Uint8Array> =>
    trustedRoot({ db: from, source: nodeSource(from), macKeys, base: anchor.trusted(), size });

  async function rootAt(from: Kysely<Database>, size: number): Promise<Uint8Array> {
    const plan = rootPlan(size);
    const hashes = await nodeSource(from).hashesOf(plan);
    return Frontier.restore(size, hashes).root();
  }

  return {
    latestCheckpoint,

    /**
     * Folds everything recorded so far. The periodic builder passes nothing and skips a turn when another server
     * is building; `checkpoint` waits for it instead, and then signs a checkpoint at the new size at once.
     */
    async build(options: { checkpoint?: boolean; wait?: boolean } = {}): Promise<StoredCheckpoint | null> {
      try {
        const built = await buildAll(options);
        if (built.checked) health.recover();
        return built.checkpoint;
      } catch (e) {
        if (isAuditTrailBroken(e)) health.fail(e, opts.clock());
        throw e;
      }
    },

    /** Whether the trail is being signed as it grows; while not, the server fails closed. */
    health,
    /** The newest checkpoint known to be signed, even if the store no longer holds it (rolled back). */
    newestKnown: () => anchor.newest(),

    async checkpointAt(size: number): Promise<StoredCheckpoint | null> {
      const row = await db
        .selectFrom('audit_checkpoints')
        .selectAll()
        .where('size', '=', size)
        .executeTakeFirst();
      return row
        ? { size: Number(row.size), note: row.note, createdAt: new Date(Number(row.created_at)) }
        : null;
    },

    async checkpoints(limit: number): Promise<StoredCheckpoint[]> {
      const rows = await db
        .selectFrom('audit_checkpoints')
        .selectAll()
        .orderBy('size', 'desc')
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        size: Number(r.size),
        note: r.note,
        createdAt: new Date(Number(r.created_at)),
      }));
    },

    /** The smallest stored checkpoint of at least `size`: the first signed one that covers it. */
    async checkpointCovering(size: number): Promise<StoredCheckpoint | null> {
      const row = await db
        .selectFrom('audit_checkpoints')
        .selectAll()
        .where('size', '>=', size)
        .orderBy('size', 'asc')
        .limit(1)
        .executeTakeFirst();
      return row
        ? { size: Number(row.size), note: row.note, createdAt: new Date(Number(row.created_at)) }
        : null;
    },

    /** Signs a checkpoint at a past size (all of it built): exports end where their range ends. */
    async signAt(size: number): Promise<StoredCheckpoint> {
      health.assertWritable();
      const rootHash = await signableRoot(db, size).catch(refuse);
      await anchor.beforeSign(size, rootHash).catch(refuse);
      const note = signCheckpoint({ origin: opts.origin, size, rootHash }, opts.signers);
      const now = opts.clock();
      await db
        .insertInto('audit_checkpoints')
        .values({ size, root: Buffer.from(rootHash), note, created_at: now.getTime() })
        .onConflict((oc) => oc.column('size').doNothing())
        .execute();
      const stored = await db
        .selectFrom('audit_checkpoints')
        .selectAll()
        .where('size', '=', size)
        .executeTakeFirstOrThrow();
      const createdAt = new Date(Number(stored.created_at));
      await writeCheckpointFile(size, stored.note, createdAt).catch(refuse);
      return { size, note: stored.note, createdAt };
    },

    /** The hashes of rootPlan(size): where an export starting at `size` resumes the tree. */
    frontierHashes: (size: number) => source.hashesOf(rootPlan(size)),

    inclusionProof: (index: number, size: number) => inclusionProofAsync(index, size, source),
    consistencyProof: (oldSize: number, newSize: number) => consistencyProofAsync(oldSize, newSize, source),
    rootAt: (size: number) => rootAt(db, size),
    /** Files written to the checkpoint directory by this process (for tests and operators' logs). */
    writtenFiles: () => [...written],
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
