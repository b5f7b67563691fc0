import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { CLAIM_MS, CLAIM_RENEW_MS } from './claim.js';
import type { WorkflowDeps } from './workflow-deps.js';

/** This server's issuance claim on one request while it issues: renewed on a timer, handed to the activation. */
export interface HeldClaim {
  /** The claim's current instant: the fencing token the activating transaction releases. */
  held(): number;
  /** Stops renewing, once any renewal under way has landed (so `held` is final). */
  stop(): Promise<void>;
}

/**
 * Keeps a short claim alive for as long as the target call runs. A renewal that finds the claim gone (this
 * server stalled past it and another took the issuance over) stops renewing: the activation's fence then
 * refuses this server's result, and the other server's issuance is the one that counts.
 */
export function renewWhileIssuing(
  deps: Pick<WorkflowDeps, 'requests' | 'clock' | 'logger'>,
  db: Kysely<Database>,
  requestId: string,
  held: number,
): HeldClaim {
  let current = held;
  let lost = false;
  let renewing: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (lost || renewing) return;
    const until = deps.clock().getTime() + CLAIM_MS;
    renewing = deps.requests
      .renewIssueClaim(db, requestId, current, until)
      .then(
        (ok) => {
          if (ok) current = until;
          else {
            lost = true;
            deps.logger.warn({ requestId }, 'issuance claim taken over by another server while issuing');
          }
        },
        // A store hiccup: the claim holds for CLAIM_MS from the last renewal; the next tick tries again.
        (err: unknown) => deps.logger.warn({ requestId, err }, 'renewing the issuance claim failed'),
      )
      .finally(() => {
        renewing = undefined;
      });
  }, CLAIM_RENEW_MS);
  timer.unref();
  return {
    held: () => current,
    async stop() {
      clearInterval(timer);
      await renewing;
    },
  };
}
