import type { SecretBox } from '../crypto/secret-box.js';
import type { Clock } from '../domain/clock.js';
import type { Logger } from '../logger.js';
import type { Job } from '../module.js';
import type { StintDatabase } from '../store/database.js';
import { createIdempotencyService } from './idempotency-service.js';

const SWEEP_MS = 10 * 60 * 1000;

/** Idempotency keys for state-changing routes, and the sweep that forgets them after a day. */
export function createIdempotencyModule(deps: {
  store: StintDatabase;
  secrets: SecretBox;
  clock: Clock;
  logger: Logger;
  sweepMs?: number;
}) {
  const service = createIdempotencyService({ db: deps.store.db, secrets: deps.secrets, clock: deps.clock });
  let timer: NodeJS.Timeout | undefined;
  const sweep = async () => {
    try {
      await service.sweep();
    } catch (err) {
      deps.logger.warn({ err }, 'forgetting expired idempotency keys failed; the next sweep retries');
    }
  };
  const job: Job = {
    async start() {
      timer = setInterval(() => void sweep(), deps.sweepMs ?? SWEEP_MS);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
    },
  };
  return { service, jobs: [job] };
}

export type IdempotencyModule = ReturnType<typeof createIdempotencyModule>;
