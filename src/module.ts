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
