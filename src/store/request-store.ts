import type { Kysely, Transaction } from 'kysely';
import { jsonArrayFrom as pgJsonArrayFrom } from 'kysely/helpers/postgres';
import { jsonArrayFrom as sqliteJsonArrayFrom } from 'kysely/helpers/sqlite';
import { reviewEligibility } from '../domain/eligibility.js';
import { StintError } from '../domain/errors.js';
import type {
  AccessRequest,
  ApprovalSlot,
  RequestState,
  RequestTier,
  ReviewDecision,
} from '../domain/request.js';
import type { Transition } from '../domain/state-machine.js';
import type { Dialect } from './migrations/migration-context.js';
import type { Database, RequestsTable } from './schema.js';
import { storeTraits } from './store-traits.js';

type Db = Kysely<Database> | Transaction<Database>;

const toDate = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));
const toMs = (d: Date | null): number | null => (d === null ? null : d.getTime());

function toRow(r: AccessRequest): Omit<RequestsTable, 'issue_claimed_until'> {
  return {
    id: r.id,
    requester: r.requester,
    resource: r.resource,
    role: r.role,
    reason: r.reason,
    duration_seconds: r.durationSeconds,
    state: r.state,
    policy_version: r.policyVersion,
    rule_id: r.ruleId,
    tiers: JSON.stringify(r.tiers),
    slots: JSON.stringify(r.slots),
    created_at: r.createdAt.getTime(),
    pending_until: r.pendingUntil.getTime(),
    approved_at: toMs(r.approvedAt),
    activated_at: toMs(r.activatedAt),
    expires_at: toMs(r.expiresAt),
    ended_at: toMs(r.endedAt),
    ended_by: r.endedBy,
    end_reason: r.endReason,
    version: r.version,
  };
}

function fromRow(
  row: RequestsTable,
  reviews: { reviewer: string; decision: string; comment: string; at: number }[],
): AccessRequest {
  return {
    id: row.id,
    requester: row.requester,
    resource: row.resource,
    role: row.role,
    reason: row.reason,
    durationSeconds: row.duration_seconds,
    state: row.state as RequestState,
    policyVersion: row.policy_version,
    ruleId: row.rule_id,
    tiers: JSON.parse(row.tiers) as RequestTier[],
    slots: JSON.parse(row.slots) as ApprovalSlot[],
    reviews: reviews.map((v) => ({
      reviewer: v.reviewer,
      decision: v.decision as ReviewDecision,
      comment: v.comment,
      at: new Date(v.at),
    })),
    createdAt: new Date(row.created_at),
    pendingUntil: new Date(row.pending_until),
    approvedAt: toDate(row.approved_at),
    activatedAt: toDate(row.activated_at),
    expiresAt: toDate(row.expires_at),
    endedAt: toDate(row.ended_at),
    endedBy: row.ended_by,
    endReason: row.end_reason,
    version: row.version,
  };
}

type ReviewRow = { reviewer: string; decision: string; comment: string; at: number };

/**
 * The reviews array as the driver hands it over: parsed already by pg, JSON text from SQLite. Sorted here too,
 * since an aggregate over an ordered subquery keeps that order in practice but not by definition.
 */
function parseReviews(value: unknown): ReviewRow[] {
  const list = (typeof value === 'string' ? JSON.parse(value) : value) as ReviewRow[];
  return list.map((v) => ({ ...v, at: Number(v.at) })).sort((a, b) => a.at - b.at);
}

/** The issuance claim, written in the transition's own UPDATE: taken with an instant, or released if still held. */
export type ClaimChange = { take: number } | { release: number };

/** The activating transaction found the issuance claim held by another server (the fence). */
export class IssueClaimLost extends Error {
  override readonly name = 'IssueClaimLost';
  constructor(requestId: string) {
    super(`the issuance claim on request ${requestId} is held by another server`);
  }
}

export interface RequestFilter {
  requester?: string;
  state?: RequestState;
  /** Requests this user may review (domain/eligibility.ts): listed for a slot, not the requester, not yet reviewed. */
  reviewableBy?: string;
  limit: number;
}

/** The request store on an engine of `dialect`, using the row locks it offers. */
export function createRequestStore(dialect: Dialect) {
  const { rowLocks } = storeTraits(dialect);
  const jsonArrayFrom = dialect === 'postgresql' ? pgJsonArrayFrom : sqliteJsonArrayFrom;
  async function load(db: Db, rows: RequestsTable[]): Promise<AccessRequest[]> {
    if (rows.length === 0) return [];
    const reviews = await db
      .selectFrom('reviews')
      .selectAll()
      .where(
        'request_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('at')
      .execute();
    return rows.map((row) =>
      fromRow(
        row,
        reviews.filter((v) => v.request_id === row.id),
      ),
    );
  }

  /**
   * Reads several requests in one round trip, as `get` reads one (a burst of expiries locks its batch with one
   * statement instead of one each). Locked in id order, so two batches that overlap wait rather than deadlock.
   * Ids not found are absent from the map.
   */
  async function getEach(
    db: Db,
    ids: readonly string[],
    opts: { forUpdate?: boolean } = {},
  ): Promise<Map<string, AccessRequest>> {
    const found = new Map<string, AccessRequest>();
    if (ids.length === 0) return found;
    let q = db
      .selectFrom('requests')
      .selectAll('requests')
      .select((eb) =>
        jsonArrayFrom(
          eb
            .selectFrom('reviews')
            .select(['reviews.reviewer', 'reviews.decision', 'reviews.comment', 'reviews.at'])
            .whereRef('reviews.request_id', '=', 'requests.id')
            .orderBy('reviews.at'),
        ).as('review_list'),
      )
      .where('requests.id', ids.length === 1 ? '=' : 'in', ids.length === 1 ? (ids[0] as string) : [...ids])
      .orderBy('requests.id');
    if (opts.forUpdate && rowLocks) q = q.forUpdate();
    for (const row of await q.execute()) {
      const { review_list, ...columns } = row;
      found.set(columns.id, fromRow(columns, parseReviews(review_list)));
    }
    return found;
  }

  return {
    /**
     * Reads one request. With `forUpdate` inside a transaction the row is locked on PostgreSQL until commit, so
     * two approvals racing read-decide-write one after the other; SQLite serialises writers anyway.
     *
     * One round trip, reviews included as a JSON array beside the row: every approve, activation, take and
     * status read goes through here, and on PostgreSQL a second query for the reviews was a round trip each.
     */
    async get(db: Db, id: string, opts: { forUpdate?: boolean } = {}): Promise<AccessRequest | null> {
      return (await getEach(db, [id], opts)).get(id) ?? null;
    },

    getEach,

    async mustGet(db: Db, id: string, opts: { forUpdate?: boolean } = {}): Promise<AccessRequest> {
      const request = await this.get(db, id, opts);
      if (!request) throw new StintError('REQUEST_NOT_FOUND', `request ${id} not found`);
      return request;
    },

    async list(db: Db, filter: RequestFilter): Promise<AccessRequest[]> {
      let q = db.selectFrom('requests').selectAll().orderBy('created_at', 'desc').limit(filter.limit);
      if (filter.requester) q = q.where('requester', '=', filter.requester);
      if (filter.state) q = q.where('state', '=', filter.state);
      const reviewer = filter.reviewableBy;
      if (reviewer !== undefined) {
        // Narrowed in SQL as far as it can be, so the limit counts only requests the rule below keeps. Slots are
        // JSON text; a quoted id cannot match a prefix of another id, but may match a label, hence the recheck.
        q = q
          .where('slots', 'like', `%${JSON.stringify(reviewer)}%`)
          .where('requester', '!=', reviewer)
          .where(({ not, exists, selectFrom }) =>
            not(
              exists(
                selectFrom('reviews')
                  .select('reviews.request_id')
                  .whereRef('reviews.request_id', '=', 'requests.id')
                  .where('reviews.reviewer', '=', reviewer),
              ),
            ),
          );
      }
      const rows = await q.execute();
      const requests = await load(db, rows);
      return reviewer === undefined
        ? requests
        : requests.filter((r) => reviewEligibility(r, reviewer).eligible);
    },

    async insert(db: Db, request: AccessRequest): Promise<void> {
      await db
        .insertInto('requests')
        .values({ ...toRow(request), issue_claimed_until: null })
        .execute();
    },

    /**
     * Persists a transition computed from `before`. The version check makes a lost update impossible even
     * where no row lock was taken: whoever changed the row first wins, the other gets CONCURRENT_UPDATE.
     *
     * Writes the transition, and with it the issuance claim when asked (one UPDATE, not two): `take` by the
     * transaction that approves, `release` by the one that activates, fenced on the claim's instant. A fenced
     * update that finds the claim moved on throws IssueClaimLost, never CONCURRENT_UPDATE: the caller must then
     * leave the target alone (the credential there is the other server's).
     */
    async apply(db: Db, before: AccessRequest, t: Transition, claim?: ClaimChange): Promise<void> {
      const { id: _id, ...changes } = toRow(t.request);
      let q = db
        .updateTable('requests')
        .set(
          claim === undefined
            ? changes
            : { ...changes, issue_claimed_until: 'take' in claim ? claim.take : null },
        )
        .where('id', '=', before.id)
        .where('version', '=', before.version);
      if (claim && 'release' in claim) q = q.where('issue_claimed_until', '=', claim.release);
      const res = await q.executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) {
        if (claim && 'release' in claim) {
          // The rare path: a second read tells which condition failed.
          const now = await db
            .selectFrom('requests')
            .select('version')
            .where('id', '=', before.id)
            .executeTakeFirst();
          if (now?.version === before.version) throw new IssueClaimLost(before.id);
        }
        throw new StintError('CONCURRENT_UPDATE', `request ${before.id} changed meanwhile; try again`);
      }
      const added = t.request.reviews.slice(before.reviews.length);
      if (added.length > 0) {
        await db
          .insertInto('reviews')
          .values(
            added.map((v) => ({
              request_id: before.id,
              reviewer: v.reviewer,
              decision: v.decision,
              comment: v.comment,
              at: v.at.getTime(),
            })),
          )
          .execute();
      }
    },

    /** Approved requests whose issuance nobody holds: new, or left by a crashed server. */
    async issuable(db: Db, now: Date, limit: number): Promise<string[]> {
      const rows = await db
        .selectFrom('requests')
        .select('id')
        .where('state', '=', 'approved')
        .where((eb) =>
          eb.or([eb('issue_claimed_until', 'is', null), eb('issue_claimed_until', '<', now.getTime())]),
        )
        .limit(limit)
        .execute();
      return rows.map((r) => r.id);
    },

    /** Takes the issuance of one approved request for `ms`; false if another server holds it. */
    async claimIssue(db: Db, id: string, now: Date, ms: number): Promise<boolean> {
      const res = await db
        .updateTable('requests')
        .set({ issue_claimed_until: now.getTime() + ms })
        .where('id', '=', id)
        .where('state', '=', 'approved')
        .where((eb) =>
          eb.or([eb('issue_claimed_until', 'is', null), eb('issue_claimed_until', '<', now.getTime())]),
        )
        .executeTakeFirst();
      return Number(res.numUpdatedRows) === 1;
    },

    /**
     * The instant an approved request's issuance is claimed until, or null. The instant doubles as the claim's
     * fencing token: a server claims only once the last claim has lapsed, by its own clock, and sets a later
     * instant than that one, so two claims never hold the same value.
     */
    async issueClaim(db: Db, id: string): Promise<number | null> {
      const row = await db
        .selectFrom('requests')
        .select('issue_claimed_until')
        .where('id', '=', id)
        .where('state', '=', 'approved')
        .executeTakeFirst();
      return row?.issue_claimed_until ?? null;
    },

    /** Moves this server's claim (`held`) on to `until`; false once it is not this server's any more. */
    async renewIssueClaim(db: Db, id: string, held: number, until: number): Promise<boolean> {
      const res = await db
        .updateTable('requests')
        .set({ issue_claimed_until: until })
        .where('id', '=', id)
        .where('state', '=', 'approved')
        .where('issue_claimed_until', '=', held)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) === 1;
    },

    /** Drops every issuance claim: only for a store one process serves alone (SQLite), at that process's start. */
    async releaseClaims(db: Db): Promise<void> {
      await db
        .updateTable('requests')
        .set({ issue_claimed_until: null })
        .where('state', '=', 'approved')
        .execute();
    },

    async dueExpiries(
      db: Db,
      until: Date,
      limit: number,
    ): Promise<{ id: string; resource: string; expiresAt: number }[]> {
      const rows = await db
        .selectFrom('requests')
        .select(['id', 'resource', 'expires_at'])
        .where('state', '=', 'active')
        .where('expires_at', '<=', until.getTime())
        .orderBy('expires_at')
        .limit(limit)
        .execute();
      return rows.map((r) => ({ id: r.id, resource: r.resource, expiresAt: r.expires_at as number }));
    },

    async duePending(db: Db, now: Date, limit: number): Promise<string[]> {
      const rows = await db
        .selectFrom('requests')
        .select('id')
        .where('state', '=', 'pending')
        .where('pending_until', '<=', now.getTime())
        .limit(limit)
        .execute();
      return rows.map((r) => r.id);
    },

    async statesOf(db: Db, ids: string[]): Promise<Map<string, RequestState>> {
      if (ids.length === 0) return new Map();
      const rows = await db.selectFrom('requests').select(['id', 'state']).where('id', 'in', ids).execute();
      return new Map(rows.map((r) => [r.id, r.state as RequestState]));
    },

    /** The state and end of one request (no approvals read), or null when there is none. */
    async stateAndExpiry(
      db: Db,
      id: string,
    ): Promise<{ state: RequestState; expiresAt: Date | null } | null> {
      const row = await db
        .selectFrom('requests')
        .select(['state', 'expires_at'])
        .where('id', '=', id)
        .executeTakeFirst();
      if (!row) return null;
      return {
        state: row.state as RequestState,
        expiresAt: row.expires_at === null ? null : new Date(row.expires_at),
      };
    },
  };
}

export type RequestStore = ReturnType<typeof createRequestStore>;
