import { authorize, can } from '../auth/authorize.js';
import type { Actor } from '../domain/actor.js';
import { StintError } from '../domain/errors.js';
import type { StintDatabase } from '../store/database.js';
import type { AuditLog, StoredCheckpoint } from './audit-log.js';
import { verifyStore } from './audit-verify.js';
import type { KnownCheckpoint } from './checkpoint-anchor.js';
import { macStart } from './leaf-mac-gate.js';
import { encodeBase64 } from './log/base64.js';
import { Frontier } from './log/frontier.js';
import { leafMacKeys } from './log/leaf-mac.js';
import type { Ed25519NoteSigner } from './log/signed-note.js';
import type { VerifyReport } from './log/verify-types.js';
import type { WitnessRefusal } from './witness/witness-submitter.js';

const b64 = (bytes: Uint8Array) => encodeBase64(bytes);

export interface AuditServiceDeps {
  store: StintDatabase;
  log: AuditLog;
  origin: string;
  signers: readonly Ed25519NoteSigner[];
  checkpointDir: string | null;
  /** Appends the witnesses' cosignatures kept for a checkpoint to its note. */
  cosigned?: (size: number, note: string) => Promise<string>;
  /** The witnesses' refusals of a checkpoint this server submitted (409/422): served with it. */
  refusals?: (size: number) => readonly WitnessRefusal[];
}

/**
 * The newest checkpoint the server knows was signed (its WORM folder, or signed since start), when the store's
 * own are older: served with them, so a verifier sees a rolled-back store come up short (MISSING) even when it
 * holds no state of its own.
 */
function withNewestKnown(
  stored: StoredCheckpoint | null,
  known: KnownCheckpoint | null,
): StoredCheckpoint | null {
  if (!known || (stored && stored.size >= known.size)) return stored;
  return { size: known.size, note: known.note, createdAt: known.createdAt };
}

/** The audit log's read side: checkpoints, leaves, proofs and verification, for auditors and witnesses. */
export function createAuditService(deps: AuditServiceDeps) {
  const db = deps.store.db;
  let verifying = false;
  // How long the last whole-trail verification took: a caller refused meanwhile is told to come back then.
  let lastVerifyMs = 1000;
  const cosigned = deps.cosigned ?? (async (_size: number, note: string) => note);

  async function built(): Promise<number> {
    const row = await db
      .selectFrom('audit_tree')
      .select('built')
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    return Number(row.built);
  }

  async function requireSize(size: number, what: string): Promise<void> {
    const have = await built();
    if (size > have) {
      throw new StintError(
        'BAD_REQUEST',
        `${what} ${size} is beyond the ${have} events folded into the tree so far`,
      );
    }
  }

  async function noteAt(size: number): Promise<string | null> {
    return (await deps.log.checkpointAt(size))?.note ?? null;
  }

  return {
    key() {
      return { origin: deps.origin, keys: deps.signers.map((s) => ({ vkey: s.vkey })) };
    },

    async latestNote(): Promise<string> {
      const latest = withNewestKnown(await deps.log.latestCheckpoint(), deps.log.newestKnown());
      if (!latest) throw new StintError('NOT_FOUND', 'no checkpoint has been signed yet');
      return cosigned(latest.size, latest.note);
    },

    async checkpoints(limit: number) {
      const stored = await deps.log.checkpoints(limit);
      const newest = withNewestKnown(stored[0] ?? null, deps.log.newestKnown());
      const list = newest && newest !== stored[0] ? [newest, ...stored].slice(0, limit) : stored;
      return Promise.all(
        list.map(async (c) => {
          const refusals = deps.refusals?.(c.size) ?? [];
          return {
            ...c,
            note: await cosigned(c.size, c.note),
            createdAt: c.createdAt.toISOString(),
            ...(refusals.length > 0 ? { refusals: [...refusals] } : {}),
          };
        }),
      );
    },

    /**
     * A checkpoint at a past size: exports end where their range ends. The stored one if there is one; else
     * security and admins, with a full-power credential, have one signed and added to the log (a row and a WORM
     * file). Anyone else changes nothing and makes the server sign nothing: they get the first signed
     * checkpoint that covers the size (the builder signs one every second or so while events arrive), or the
     * latest one.
     */
    async checkpointAt(actor: Actor, size: number) {
      authorize(actor, 'audit.read-all');
      await requireSize(size, 'size');
      const existing = await deps.log.checkpointAt(size);
      const signs = can(actor, 'audit.sign-checkpoint') && (actor.credential?.scopes ?? null) === null;
      const made =
        existing ??
        (signs
          ? await deps.log.signAt(size)
          : ((await deps.log.checkpointCovering(size)) ??
            withNewestKnown(await deps.log.latestCheckpoint(), deps.log.newestKnown())));
      if (!made || made.size < size) {
        throw new StintError(
          'NOT_FOUND',
          `no signed checkpoint covers size ${size} yet (one is signed every second or so while events arrive): retry shortly`,
        );
      }
      return { size: made.size, note: made.note, createdAt: made.createdAt.toISOString() };
    },

    async leaves(actor: Actor, start: number, limit: number) {
      authorize(actor, 'audit.read-all');
      const rows = await db
        .selectFrom('audit_events')
        .select(['seq', 'body', 'leaf_hash', 'leaf_mac'])
        .where('seq', '>=', start)
        .orderBy('seq')
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        seq: Number(r.seq),
        body: r.body,
        leafHash: b64(r.leaf_hash),
        // Useless without the signing key; served so an operator holding it can check every leaf.
        mac: r.leaf_mac ? b64(r.leaf_mac) : null,
      }));
    },

    /** Where leaf MACs begin: leaves recorded before MACs were introduced have none. */
    macFrom: () => macStart(db),

    async range(actor: Actor, since: Date, until: Date) {
      authorize(actor, 'audit.read-all');
      const first = await db
        .selectFrom('audit_events')
        .select('seq')
        .where('at', '>=', since.getTime())
        .orderBy('seq')
        .limit(1)
        .executeTakeFirst();
      const after = await db
        .selectFrom('audit_events')
        .select('seq')
        .where('at', '>=', until.getTime())
        .orderBy('seq')
        .limit(1)
        .executeTakeFirst();
      const size = await built();
      const end = after ? Number(after.seq) : size;
      const start = first ? Math.min(Number(first.seq), end) : end;
      return { start, end };
    },

    async frontier(actor: Actor, size: number) {
      authorize(actor, 'audit.read-all');
      await requireSize(size, 'size');
      const hashes = await deps.log.frontierHashes(size);
      return { size, root: b64(Frontier.restore(size, hashes).root()), hashes: hashes.map(b64) };
    },

    async inclusion(actor: Actor, q: { eventId?: string; seq?: number; size?: number }) {
      authorize(actor, 'audit.read-all');
      let query = db.selectFrom('audit_events').select(['seq', 'body', 'leaf_hash']);
      if (q.eventId) query = query.where('id', '=', q.eventId);
      else if (q.seq !== undefined) query = query.where('seq', '=', q.seq);
      else throw new StintError('BAD_REQUEST', 'name an event id or a seq');
      const event = await query.executeTakeFirst();
      if (!event) throw new StintError('NOT_FOUND', 'no such audit event');
      const latest = await deps.log.latestCheckpoint();
      const size = q.size ?? latest?.size;
      if (size === undefined) throw new StintError('NOT_FOUND', 'no checkpoint has been signed yet');
      const seq = Number(event.seq);
      if (seq >= size) {
        throw new StintError(
          'NOT_FOUND',
          `event ${seq} is not yet covered by a checkpoint (size ${size}); retry shortly`,
        );
      }
      await requireSize(size, 'size');
      const proof = await deps.log.inclusionProof(seq, size);
      return {
        seq,
        size,
        leafHash: b64(event.leaf_hash),
        body: event.body,
        proof: proof.map(b64),
        checkpoint: await noteAt(size),
      };
    },

    async consistency(oldSize: number, newSize: number) {
      if (oldSize > newSize) throw new StintError('BAD_REQUEST', 'old size must not exceed new size');
      await requireSize(newSize, 'new size');
      const proof = await deps.log.consistencyProof(oldSize, newSize);
      return {
        old: oldSize,
        new: newSize,
        proof: proof.map(b64),
        oldCheckpoint: await noteAt(oldSize),
        newCheckpoint: await noteAt(newSize),
      };
    },

    /**
     * Recomputes the whole trail: one at a time for the whole server. A caller meanwhile is refused
     * (AUDIT_VERIFY_RUNNING, with when to retry) rather than queued or joined to the running one: a run that
     * began before the call cannot vouch for the trail as it was when the call came, and a queue would let
     * read-only roles pile up CPU-heavy work. The route also limits each caller's rate.
     */
    async verify(actor: Actor): Promise<VerifyReport> {
      authorize(actor, 'audit.verify');
      if (verifying) {
        throw new StintError(
          'AUDIT_VERIFY_RUNNING',
          'a verification of the whole trail is running on this server: try again when it ends',
          { retryAfterSeconds: Math.max(1, Math.ceil(lastVerifyMs / 1000)) },
        );
      }
      verifying = true;
      const started = performance.now();
      try {
        return await verifyStore({
          store: deps.store,
          origin: deps.origin,
          keys: deps.signers.map((s) => s.verifier),
          checkpointDir: deps.checkpointDir,
          macKeys: leafMacKeys(deps.signers),
        });
      } finally {
        verifying = false;
        lastVerifyMs = performance.now() - started;
      }
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
