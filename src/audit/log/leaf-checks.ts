import { MacAudit } from './mac-audit.js';
import { HASH_SIZE } from './merkle.js';
import { PurgeCoverage } from './purge-coverage.js';
import type { LeafRecord, VerifyOptions } from './verify-types.js';

/** Checks a record's shape; returns why it is unusable, or null. */
export function recordDefect(record: LeafRecord): string | null {
  if (record.leafHash != null && record.leafHash.length !== HASH_SIZE) {
    return `event ${record.index} has a recorded leaf hash that is not 32 bytes`;
  }
  if (record.data === null && record.leafHash == null) {
    return `event ${record.index} has neither data nor a recorded leaf hash`;
  }
  return null;
}

/** Stint's per-leaf rules beyond the Merkle log: leaf MACs and purge coverage, as the options ask. */
export interface LeafChecks {
  readonly macs?: MacAudit;
  readonly purges?: PurgeCoverage;
}

export function leafChecks(options: VerifyOptions): LeafChecks {
  return {
    ...(options.macKeys ? { macs: new MacAudit(options.macKeys, options.macFrom ?? 0) } : {}),
    ...(options.requirePurges ? { purges: new PurgeCoverage() } : {}),
  };
}

/** Runs the per-leaf rules on a record, in log order. */
export function checkLeaf(checks: LeafChecks, record: LeafRecord, leaf: Uint8Array | null): void {
  checks.purges?.note(record.index, record.data);
  const hash = record.leafHash ?? leaf;
  if (checks.macs && hash) checks.macs.check(record.index, hash, record.mac);
}
