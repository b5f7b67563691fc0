import type { Kysely, Transaction } from 'kysely';
import { reviewEligibility } from '../domain/eligibility.js';
import { StintError } from '../domain/errors.js';
import type { AccessRequest, ApprovalSlot, RequestState, ReviewDecision, Tier } from '../domain/request.js';
import type { Transition } from '../domain/state-machine.js';
import type { Dialect } from './migrations/migration-context.js';
import type { Database, RequestsTable } from './schema.js';

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
    tiers: JSON.parse(row.tiers) as Tier[],
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

export interface RequestFilter {
  requester?: string;
  state?: RequestState;
  /** Requests this user may review (domain/eligibility.ts): listed for a slot, not the requester, not yet reviewed. */
  reviewableBy?: string;
  limit: number;
}

export function createRequestStore(dialect: Dialect) {
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

  return {
    /**
     * Reads one request. With `forUpdate` inside a transaction the row is locked on PostgreSQL until commit, so
     * two approvals racing read-decide-write one after the other; SQLite serialises writers anyway.
     */
    async get(db: Db, id: string, opts: { forUpdate?: boolean } = {}): Promise<AccessRequest | null> {
      let q = db.selectFrom('requests').selectAll().where('id', '=', id);
      if (opts.forUpdate && dialect === 'postgres') q = q.forUpdate();
      const row = await q.executeTakeFirst();
      if (!row) return null;
      const [request] = await load(db, [row]);
      return request ?? null;
    },

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
     */
    async apply(db: Db, before: AccessRequest, t: Transition): Promise<void> {
      const { id: _id, ...changes } = toRow(t.request);
      const res = await db
        .updateTable('requests')
        .set(changes)
        .where('id', '=', before.id)
        .where('version', '=', before.version)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) {
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
