import { createAuditLog } from '../src/audit/audit-log.js';
import { leafMacKeys } from '../src/audit/log/leaf-mac.js';
import { generateNoteKey, parseSkey } from '../src/audit/log/signed-note.js';
import { silentLogger } from '../src/logger.js';
import type { StintDatabase } from '../src/store/database.js';

/** A grant event of the usual size, distinct per `i`: what the audit figures append. */
export function syntheticEvent(i: number) {
  return {
    at: new Date(1_790_000_000_000 + i * 1000),
    actor: `user${i % 97}`,
    action: 'grant.activated',
    requestId: `req_${(i * 7919).toString(16).padStart(16, '0')}`,
    target: { resource: 'prod-db', role: 'admin' },
    reason: `INC-${i % 5000}`,
    details: { expiresAt: new Date(1_790_000_000_000 + i * 1000 + 7_200_000).toISOString() },
  };
}

/**
 * The audit log over a migrated bench store, signed by a fresh key, with no checkpoint folder or interval, and
 * the MAC keys the server's writer appends with.
 */
export function benchAuditLog(store: StintDatabase, origin: string) {
  const signer = parseSkey(generateNoteKey(origin).skey);
  const log = createAuditLog({
    store,
    clock: () => new Date(),
    logger: silentLogger,
    origin: signer.name,
    signers: [signer],
    checkpointDir: null,
    checkpointIntervalMs: 0,
  });
  return { signer, log, macKeys: leafMacKeys([signer]) };
}
