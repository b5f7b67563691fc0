import type { TransitionRunner } from '../audit/transition-runner.js';
import type { Clock } from '../domain/clock.js';
import { isStintError } from '../domain/errors.js';
import { timeOut } from '../domain/state-machine.js';
import type { StintDatabase } from '../store/database.js';
import type { RequestStore } from '../store/request-store.js';

const BATCH = 200;

/**
 * Requests nobody decided within their pending window time out: the sweep finds them in the store, so a
 * request times out on time whichever server is up. Another server may end the same request first; that is
 * not a failure.
 */
export function createTimeOuts(deps: {
  store: StintDatabase;
  requests: Pick<RequestStore, 'duePending'>;
  run: TransitionRunner;
  clock: Clock;
}) {
  return async function timeOutPending(signal: AbortSignal): Promise<void> {
    const now = deps.clock();
    for (const id of await deps.requests.duePending(deps.store.db, now, BATCH)) {
      if (signal.aborted) return;
      try {
        await deps.run(id, now, (r) => timeOut(r, now));
      } catch (e) {
        if (!isStintError(e)) throw e;
      }
    }
  };
}
