/**
 * What a capability offers the composition root besides its services: background work to start and stop, and
 * checks that must pass for the server to be ready. Each `createXModule(deps)` returns these beside its services;
 * `app/stint.ts` starts them in the order the modules are listed and stops them in reverse.
 */
export interface Job {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Throws (or rejects) while the capability cannot serve: a "not ready" for /readyz. */
export type ReadinessCheck = () => Promise<void> | void;

/**
 * Something a person must act on that does not stop this server serving (a target Stint cannot clean up): named
 * in /readyz, which still answers 200, so a broken target does not take every server out of the load balancer.
 */
export interface Degradation {
  check: string;
  message: string;
  /** How many things are affected, and the first few request ids (never a secret or a target's name). */
  count: number;
  requests: string[];
}

/** Answers what is degraded now, or null. */
export type DegradedCheck = () => Promise<Degradation | null>;

/** What /readyz reports when every readiness check passed. */
export type ReadinessReport = { status: 'ready' } | { status: 'degraded'; degraded: Degradation[] };
