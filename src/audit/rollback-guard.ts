import type { Kysely } from 'kysely';
import { StintError } from '../domain/errors.js';
import type { Database } from '../store/schema.js';
import { checkpointFilesNewestFirst } from './checkpoint-files.js';

/** The setting that lets a server start with nothing outside its store to catch a rollback. */
export const ACCEPT_ROLLBACK_RISK = 'STINT_AUDIT_ACCEPT_ROLLBACK_RISK';

/**
 * Before the first build: a store that has signed checkpoints must be checked against something it cannot roll
 * back, the WORM folder's copies or a witness. With neither, a store restored from an old backup (and its
 * folder removed) would start cleanly and be signed onwards, and every later check would pass: refuse, unless
 * the operator said to accept that. A new store (no checkpoint yet) starts: nothing was signed to roll back.
 * Runs before the first build, which writes a file to the folder and would hide that it was empty.
 */
export async function requireRollbackAnchor(opts: {
  db: Kysely<Database>;
  checkpointDir: string | null;
  witnesses: number;
  acceptRollbackRisk: boolean;
}): Promise<void> {
  if (opts.acceptRollbackRisk || opts.witnesses > 0) return;
  if (!checkpointFilesNewestFirst(opts.checkpointDir).next().done) return;
  const signed = await opts.db.selectFrom('audit_checkpoints').select('size').limit(1).executeTakeFirst();
  if (!signed) return;
  const where = opts.checkpointDir ?? '(none configured)';
  throw new StintError(
    'CONFIG_INVALID',
    `refusing to start: the audit store holds signed checkpoints but the WORM checkpoint folder ${where} ` +
      'holds none and no witness is configured, so nothing would catch a store rolled back with its folder ' +
      'removed. Restore the folder (STINT_AUDIT_CHECKPOINT_DIR) from its write-once copy, or configure a ' +
      `witness (STINT_AUDIT_WITNESSES); to start anyway, set ${ACCEPT_ROLLBACK_RISK}=true`,
  );
}
