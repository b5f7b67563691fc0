import type { SecretBox } from '../crypto/secret-box.js';
import type { Clock } from '../domain/clock.js';
import type { StintModule } from '../module.js';
import type { StintDatabase } from '../store/database.js';
import { createIdempotencyService } from './idempotency-service.js';

const SWEEP_MS = 10 * 60 * 1000;

/** Idempotency keys for state-changing routes, and the sweep that forgets them after a day. */
export function createIdempotencyModule(deps: {
  store: StintDatabase;
  secrets: SecretBox;
  clock: Clock;
  sweepMs?: number;
}) {
  const service = createIdempotencyService({ db: deps.store.db, secrets: deps.secrets, clock: deps.clock });
  const module: StintModule = {
    name: 'idempotency',
    // A failed pass forgets nothing it should not: the next one retries.
    sweeps: [{ name: 'idempotency.forget', everyMs: deps.sweepMs ?? SWEEP_MS, run: () => service.sweep() }],
  };
  return { service, module };
}

export type IdempotencyModule = ReturnType<typeof createIdempotencyModule>;
