import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { StintDatabase } from '../store/database.js';
import { macStart } from './leaf-mac-gate.js';
import type { LeafMacKey } from './log/leaf-mac.js';
import type { NoteVerifier } from './log/signed-note.js';
import { createLogVerifier } from './log/verifier.js';
import type { LeafRecord, VerifyReport } from './log/verify-types.js';

const PAGE = 10_000;
/**
 * Records hashed between two turns of the event loop: a whole-trail recompute yields this often, so the
 * server's other answers wait a few milliseconds at most while it runs, not the whole recompute.
 */
const SLICE = 1_000;

/** Checkpoint notes written to the WORM directory: the anchor a rolled-back database cannot take back. */
export function readCheckpointDir(dir: string | null): string[] {
  if (!dir || !existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^checkpoint-\d+\.txt$/.test(f))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'));
}

/** Events in seq order, page by page, as the verifier's records. The index comes from inside the hashed body. */
async function* leafRecords(store: StintDatabase): AsyncGenerator<LeafRecord> {
  let after = -1;
  for (;;) {
    const rows = await store.db
      .selectFrom('audit_events')
      .select(['seq', 'body', 'leaf_hash', 'leaf_mac'])
      .where('seq', '>', after)
      .orderBy('seq')
      .limit(PAGE)
      .execute();
    for (const r of rows) {
      let index = Number(r.seq);
      if (r.body !== null) {
        try {
          const seq = (JSON.parse(r.body) as { seq?: unknown }).seq;
          if (typeof seq === 'number') index = seq;
        } catch {
          // A body that no longer parses still hashes: CHANGED names it.
        }
      }
      yield {
        index,
        data: r.body,
        leafHash: new Uint8Array(r.leaf_hash),
        mac: r.leaf_mac ? new Uint8Array(r.leaf_mac) : null,
      };
    }
    if (rows.length < PAGE) return;
    after = Number(rows.at(-1)?.seq);
  }
}

/**
 * Recomputes the whole trail from the store and checks it against every signed checkpoint the store and the
 * checkpoint directory hold. Names the first event that does not match and why.
 */
export async function verifyStore(opts: {
  store: StintDatabase;
  origin: string;
  keys: readonly NoteVerifier[];
  checkpointDir: string | null;
  /** The server's leaf MAC keys: with them every leaf's MAC is checked too. */
  macKeys?: readonly LeafMacKey[];
}): Promise<VerifyReport> {
  const stored = await opts.store.db.selectFrom('audit_checkpoints').select('note').orderBy('size').execute();
  const checkpoints = [...new Set([...stored.map((c) => c.note), ...readCheckpointDir(opts.checkpointDir)])];
  const verifier = createLogVerifier({
    origin: opts.origin,
    keys: opts.keys,
    checkpoints,
    requirePurges: true,
    ...(opts.macKeys ? { macKeys: opts.macKeys, macFrom: await macStart(opts.store.db) } : {}),
  });
  let sinceYield = 0;
  for await (const record of leafRecords(opts.store)) {
    if (!verifier.push(record)) break;
    if (++sinceYield === SLICE) {
      sinceYield = 0;
      await nextTurn();
    }
  }
  return verifier.finish();
}
