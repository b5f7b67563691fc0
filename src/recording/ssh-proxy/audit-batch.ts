import type { AuditInput } from '../../audit/audit-store.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import type { Logger } from '../../logger.js';
import type { StintDatabase } from '../../store/database.js';

/**
 * Session activity events (SFTP operations, forwarded connections), appended in small batches: a directory
 * download is hundreds of opens and closes, each its own event, but one transaction every `everyMs`.
 */
export function createAuditBatch(
  deps: { store: StintDatabase; audit: AuditWriter; logger: Logger },
  everyMs = 200,
) {
  let queue: AuditInput[] = [];
  let timer: NodeJS.Timeout | null = null;
  let chain: Promise<void> = Promise.resolve();

  const flush = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = null;
    const batch = queue;
    queue = [];
    if (batch.length === 0) return chain;
    chain = chain
      .then(() => deps.audit.append(deps.store.db, batch))
      .catch((err: unknown) =>
        deps.logger.error(
          { err: (err as Error).message, events: batch.length },
          'session events not audited',
        ),
      );
    return chain;
  };

  return {
    push(event: AuditInput): void {
      queue.push(event);
      if (queue.length >= 100) void flush();
      else timer ??= setTimeout(() => void flush(), everyMs);
    },
    flush,
  };
}

export type AuditBatch = ReturnType<typeof createAuditBatch>;
