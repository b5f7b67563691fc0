import type { Transaction } from 'kysely';
import type { AccessRequest } from '../domain/request.js';
import type { Transition } from '../domain/state-machine.js';
import type { StintDatabase } from '../store/database.js';
import type { RequestStore } from '../store/request-store.js';
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
    source?: AuditSource,
  ): Promise<{ before: AccessRequest; transition: Transition }> {
    return deps.store.db.transaction().execute(async (trx) => {
      const before = await deps.requests.mustGet(trx, id, { forUpdate: true });
      const transition = decide(before);
      await deps.requests.apply(trx, before, transition);
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

type AuditSource = NonNullable<AuditInput['source']>;

export type TransitionRunner = ReturnType<typeof createTransitionRunner>;
