import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { checkLeafMac, type LeafMacKey } from './log/leaf-mac.js';
import { AuditTrailBroken } from './trail-health.js';

/** The first leaf that must carry a MAC: leaves recorded before MACs were introduced have none. */
export async function macStart(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('audit_mac_start').select('size').where('id', '=', 1).executeTakeFirst();
  // No row means the guard table was emptied: then every leaf needs one.
  return row ? Number(row.size) : 0;
}

/**
 * The tree builder's gate: a leaf without a valid MAC by one of this server's keys was not appended by a Stint
 * server (someone with write access to the store added or altered it). It must never be folded and signed, so
 * the builder stops here as it does for non-contiguous leaves.
 */
export function requireLeafMacs(
  keys: readonly LeafMacKey[],
  from: number,
  leaves: readonly { seq: number; leaf_hash: Uint8Array; leaf_mac: Uint8Array | null }[],
): void {
  for (const leaf of leaves) {
    const seq = Number(leaf.seq);
    if (seq < from) continue;
    const check = checkLeafMac(keys, seq, leaf.leaf_hash, leaf.leaf_mac);
    if (check === 'ok') continue;
    const why =
      check === 'missing'
        ? 'has no MAC'
        : check === 'bad'
          ? 'has a MAC that does not verify'
          : "has a MAC by none of this server's signing keys (was a key removed before its leaves were built?)";
    // A trail problem like a missing leaf, so the server fails closed (not ready, state changes refused).
    throw new AuditTrailBroken(
      'FORGED',
      `audit log leaf ${seq} ${why}: it was not appended by a Stint server; the trail was altered`,
    );
  }
}
