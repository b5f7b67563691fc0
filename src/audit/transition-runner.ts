import type { Transaction } from 'kysely';
import { isStintError, StintError } from '../domain/errors.js';
import type { AccessRequest } from '../domain/request.js';
import type { Transition } from '../domain/state-machine.js';
import type { StintDatabase } from '../store/database.js';
import type { ClaimChange, RequestStore } from '../store/request-store.js';
import type { Database } from '../store/schema.js';
import type { AuditInput } from './audit-store.js';
import type { AuditWriter } from './audit-writer.js';

/**
 * Read-decide-write in one short transaction: lock the request, let the pure state machine decide, persist the
 * new state and its audit event together. No network call happens in here.
 */
export function createTransitionRunner(deps: {
  store: StintDatabase;
  requests: RequestStore;
  audit: AuditWriter;
}) {
  return async function run(
    id: string,
    now: Date,
    decide: (request: AccessRequest) => Transition,
    after?: (trx: Transaction<Database>, t: Transition, before: AccessRequest) => Promise<void>,
    opts: RunOptions = {},
  ): Promise<{ before: AccessRequest; transition: Transition }> {
    const { source } = opts;
    return deps.store.db.transaction().execute(async (trx) => {
      const before = await deps.requests.mustGet(trx, id, { forUpdate: true });
      const transition = decide(before);
      const claim = opts.claim?.(transition, before);
      await deps.requests.apply(trx, before, transition, claim);
      if (after) await after(trx, transition, before);
      // Last, so the audit log's counter row is locked for as short a time as possible.
      await deps.audit.append(trx, {
        at: now,
        actor: transition.actor,
        action: transition.action,
        requestId: id,
        target: { resource: before.resource, role: before.role },
        details: transition.details,
        ...(source ? { source } : {}),
      });
      return { before, transition };
    });
  };
}

export interface RunOptions {
  source?: AuditSource | undefined;
  /** The issuance claim to write in the transition's UPDATE (see RequestStore.apply), given the decision. */
  claim?: ((t: Transition, before: AccessRequest) => ClaimChange | undefined) | undefined;
}

/** One request's part in a batch of transitions: as `run` takes it. */
export interface BatchedTransition {
  id: string;
  decide: (request: AccessRequest) => Transition;
  after?: (trx: Transaction<Database>, t: Transition, before: AccessRequest) => Promise<void>;
}

/**
 * The same read-decide-write for many requests in one transaction, their audit events appended together: a
 * burst (hundreds of expiries due in one second, a backlog at start) costs one commit instead of hundreds. A
 * request the state machine refuses (ended meanwhile) is left out and answered with its error; any other
 * failure rolls the whole batch back, and the caller goes one by one.
 */
export function createBatchTransitionRunner(deps: {
  store: StintDatabase;
  requests: RequestStore;
  audit: AuditWriter;
}) {
  return async function runMany(
    items: readonly BatchedTransition[],
    now: Date,
    /** After every item, in the same transaction, with the ids whose transition was applied. */
    afterAll?: (trx: Transaction<Database>, applied: string[]) => Promise<void>,
  ): Promise<Map<string, { before: AccessRequest; transition: Transition } | StintError>> {
    return deps.store.db.transaction().execute(async (trx) => {
      const results = new Map<string, { before: AccessRequest; transition: Transition } | StintError>();
      const events: AuditInput[] = [];
      // The whole batch locked in one statement: on PostgreSQL a read per request was most of a burst's time.
      const rows = await deps.requests.getEach(
        trx,
        items.map((i) => i.id),
        { forUpdate: true },
      );
      for (const item of items) {
        const before = rows.get(item.id);
        if (!before) throw new StintError('REQUEST_NOT_FOUND', `request ${item.id} not found`);
        let transition: Transition;
        try {
          transition = item.decide(before);
        } catch (e) {
          if (isStintError(e)) {
            results.set(item.id, e);
            continue;
          }
          throw e;
        }
        await deps.requests.apply(trx, before, transition);
        if (item.after) await item.after(trx, transition, before);
        events.push({
          at: now,
          actor: transition.actor,
          action: transition.action,
          requestId: item.id,
          target: { resource: before.resource, role: before.role },
          details: transition.details,
        });
        results.set(item.id, { before, transition });
      }
      const applied = [...results].flatMap(([id, r]) => (r instanceof Error ? [] : [id]));
      if (afterAll && applied.length > 0) await afterAll(trx, applied);
      if (events.length > 0) await deps.audit.append(trx, events);
      return results;
    });
  };
}

type AuditSource = NonNullable<AuditInput['source']>;

export type BatchTransitionRunner = ReturnType<typeof createBatchTransitionRunner>;

export type TransitionRunner = ReturnType<typeof createTransitionRunner>;
