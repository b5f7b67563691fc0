import type { Transaction } from 'kysely';
import { appendAudit } from '../audit/audit-store.js';
import type { AccessRequest } from '../domain/request.js';
import type { Transition } from '../domain/state-machine.js';
import type { Database } from '../store/schema.js';
import type { WorkflowDeps } from './context.js';

/**
 * Read-decide-write in one short transaction: lock the request, let the pure state machine decide, persist the
 * new state and its audit event together. No network call happens in here.
 */
export function createTransitionRunner(deps: Pick<WorkflowDeps, 'store' | 'requests'>) {
  return async function run(
    id: string,
    now: Date,
    decide: (request: AccessRequest) => Transition,
    after?: (trx: Transaction<Database>, t: Transition, before: AccessRequest) => Promise<void>,
  ): Promise<{ before: AccessRequest; transition: Transition }> {
    return deps.store.db.transaction().execute(async (trx) => {
      const before = await deps.requests.mustGet(trx, id, { forUpdate: true });
      const transition = decide(before);
      await deps.requests.apply(trx, before, transition);
      await appendAudit(trx, {
        at: now,
        actor: transition.actor,
        action: transition.action,
        requestId: id,
        details: transition.details,
      });
      if (after) await after(trx, transition, before);
      return { before, transition };
    });
  };
}

export type TransitionRunner = ReturnType<typeof createTransitionRunner>;
