import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { macStart, requireLeafMacs } from './leaf-mac-gate.js';
import { encodeBase64 } from './log/base64.js';
import { Frontier } from './log/frontier.js';
import { checkLeafMac, type LeafMacKey } from './log/leaf-mac.js';
import { bytesEqual, rootPlan } from './log/merkle.js';
import { verifyConsistency } from './log/proof-verification.js';
import { type AsyncNodeSource, consistencyProofAsync, rootAtAsync } from './log/tree-store.js';
import { AuditTrailBroken } from './trail-health.js';

/** Leaves read per page while re-folding the suffix: memory stays flat after a long time without signing. */
const PAGE = 20_000;

const short = (root: Uint8Array) => `${encodeBase64(root).slice(0, 12)}…`;

/** A checkpoint this server holds outside the store: one it signed, or the newest in the WORM folder. */
export interface TrustedBase {
  size: number;
  rootHash: Uint8Array;
}

/**
 * The root to sign at `size`, from nothing the store could have forged. The store's tree (`audit_tree.built`,
 * `audit_nodes`) is progress a store writer can fake: appending a MAC-less leaf and folding it in themselves
 * leaves the builder nothing to fold, so its per-fold MAC gate never sees the leaf. So before anything is
 * signed, the root comes from `base` (a checkpoint this server signed or reads from the WORM folder):
 * - at or below `base`, the store's root at `size` must be consistent with `base`'s root (RFC 9162 proof from
 *   the stored nodes);
 * - beyond it, every leaf since `base` is read again, must be contiguous and carry a valid MAC (from
 *   `audit_mac_start`, and in any case from the first valid MAC met, the leaf just before `base` included),
 *   and is folded onto the store's frontier at `base` (which must have `base`'s root); the result must equal
 *   the store's root at `size`.
 * Without a base (no WORM folder and nothing signed since start) everything since leaf 0 is read once.
 */
export async function trustedRoot(opts: {
  db: Kysely<Database>;
  source: AsyncNodeSource;
  macKeys: readonly LeafMacKey[];
  base: TrustedBase | null;
  size: number;
}): Promise<Uint8Array> {
  const { db, source, base, size } = opts;
  const stored = await rootAtAsync(size, source);
  if (base && size <= base.size) {
    const proof = await consistencyProofAsync(size, base.size, source);
    if (!verifyConsistency(size, base.size, proof, stored, base.rootHash)) {
      throw new AuditTrailBroken(
        'FORK',
        `the store's tree at size ${size} (${short(stored)}) is not a prefix of checkpoint ${base.size} ` +
          'this server holds: the stored nodes were altered; refusing to sign',
      );
    }
    return stored;
  }
  const from = base?.size ?? 0;
  const frontier = Frontier.restore(from, await source.hashesOf(rootPlan(from)));
  if (base && !bytesEqual(frontier.root(), base.rootHash)) {
    throw new AuditTrailBroken(
      'FORK',
      `the store's tree at size ${from} no longer has the root of checkpoint ${from} this server holds ` +
        `(${short(base.rootHash)}): the stored nodes were altered; refusing to sign`,
    );
  }
  let macFrom = await macStart(db);
  if (from > 0 && macFrom > from - 1) {
    // audit_mac_start is a row in the store too: a leaf that carries a valid MAC says MACs were on by then.
    const before = await db
      .selectFrom('audit_events')
      .select(['seq', 'leaf_hash', 'leaf_mac'])
      .where('seq', '=', from - 1)
      .executeTakeFirst();
    if (before && checkLeafMac(opts.macKeys, from - 1, before.leaf_hash, before.leaf_mac) === 'ok') {
      macFrom = from - 1;
    }
  }
  for (let at = from; at < size; at += PAGE) {
    const end = Math.min(size, at + PAGE);
    const leaves = await db
      .selectFrom('audit_events')
      .select(['seq', 'leaf_hash', 'leaf_mac'])
      .where('seq', '>=', at)
      .where('seq', '<', end)
      .orderBy('seq')
      .execute();
    const gap = leaves.findIndex((l, i) => Number(l.seq) !== at + i);
    if (leaves.length !== end - at || gap >= 0) {
      const missing = gap >= 0 ? at + gap : at + leaves.length;
      throw new AuditTrailBroken(
        'NOT_CONTIGUOUS',
        `audit event ${missing} is missing from the store, though its tree claims to cover it: the trail was altered`,
      );
    }
    if (macFrom > at) {
      const firstMac = leaves.find(
        (l) => checkLeafMac(opts.macKeys, Number(l.seq), l.leaf_hash, l.leaf_mac) === 'ok',
      );
      if (firstMac) macFrom = Math.min(macFrom, Number(firstMac.seq));
    }
    requireLeafMacs(opts.macKeys, macFrom, leaves);
    for (const leaf of leaves) frontier.append(new Uint8Array(leaf.leaf_hash));
  }
  const root = frontier.root();
  if (!bytesEqual(root, stored)) {
    throw new AuditTrailBroken(
      'FORK',
      `the store's tree at size ${size} has root ${short(stored)} but its leaves fold to ${short(root)}: ` +
        'the stored nodes were altered; refusing to sign',
    );
  }
  return root;
}
