import type { StintDatabase } from '../../src/store/database.js';

/** Everything a bad input could have changed, to assert that it changed nothing. */
export async function snapshot(store: StintDatabase) {
  const db = store.db;
  const [requests, reviews, grants, audit] = await Promise.all([
    db.selectFrom('requests').select(['id', 'state', 'version']).orderBy('id').execute(),
    db
      .selectFrom('reviews')
      .select(['request_id', 'reviewer'])
      .orderBy('request_id')
      .orderBy('reviewer')
      .execute(),
    db
      .selectFrom('grants')
      .select(['request_id', 'revocation', 'credential_shown_at'])
      .orderBy('request_id')
      .execute(),
    // Refused credentials are audited (auth.failed) by design: that record is the one change bad input makes.
    db
      .selectFrom('audit_events')
      .select(['seq'])
      .where('action', 'not like', 'auth.%')
      .orderBy('seq')
      .execute(),
  ]);
  return { requests, reviews, grants, audit: audit.length };
}
