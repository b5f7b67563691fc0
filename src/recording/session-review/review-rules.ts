import type { Transaction } from 'kysely';
import type { Actor } from '../../domain/actor.js';
import { StintError } from '../../domain/errors.js';
import type { StintDatabase } from '../../store/database.js';
import type { RequestStore } from '../../store/request-store.js';
import type { RecordedSessionsTable, RecordingDatabase } from '../recording-tables.js';

/**
 * Who watches recordings: security and auditors. Not admins as such (configuration is their job, and a recording
 * can show what a credential cannot be read for), not the people in them.
 */
export function assertWatcher(actor: Actor, what: string): void {
  if (!actor.security && !actor.auditor) throw new StintError('FORBIDDEN', `${actor.userId} may not ${what}`);
}

/**
 * Who may judge a session (claim it, or give its verdict): a watcher who neither made the session nor approved its
 * request, so nobody marks their own work.
 */
export async function assertMayJudge(
  deps: { store: StintDatabase; requests: Pick<RequestStore, 'get'> },
  actor: Actor,
  session: Pick<RecordedSessionsTable, 'requester' | 'request_id'>,
  what: string,
): Promise<void> {
  assertWatcher(actor, what);
  if (session.requester === actor.userId) {
    throw new StintError('SELF_APPROVAL', `${actor.userId} may not ${what} of their own`);
  }
  const request = await deps.requests.get(deps.store.db, session.request_id);
  if (request?.reviews.some((r) => r.reviewer === actor.userId && r.decision === 'approve')) {
    throw new StintError('FORBIDDEN', `${actor.userId} approved ${session.request_id} and may not ${what}`);
  }
}

/** A session's review row, still to be judged, read in the caller's transaction; else NOT_FOUND or ALREADY_REVIEWED. */
export async function queuedReview(trx: Transaction<RecordingDatabase>, sessionId: string) {
  const row = await trx
    .selectFrom('session_reviews')
    .selectAll()
    .where('session_id', '=', sessionId)
    .executeTakeFirst();
  if (!row) throw new StintError('NOT_FOUND', `session ${sessionId} is not in the review queue`);
  if (row.state !== 'queued')
    throw new StintError('ALREADY_REVIEWED', `session ${sessionId} was reviewed already`);
  return row;
}
