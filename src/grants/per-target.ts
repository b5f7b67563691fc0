/** How many expiries or revocations run at once against one target: enough to clear a backlog in well under a
 * second, few enough that a restart with hundreds overdue does not flood the target's admin connections. */
export const PER_TARGET_CONCURRENCY = 8;

/**
 * Runs `work` for every item, items of different targets fully in parallel and at most `limit` at once per
 * target, each target's items in the order given (oldest due first). Every item is attempted even if one fails;
 * the first failure is rethrown once all have finished, so a caller never overlaps a run still in progress.
 */
export async function eachPerTarget<T>(
  items: readonly T[],
  targetOf: (item: T) => string,
  work: (item: T) => Promise<unknown>,
  limit = PER_TARGET_CONCURRENCY,
): Promise<void> {
  const queues = new Map<string, T[]>();
  for (const item of items) {
    const key = targetOf(item);
    const queue = queues.get(key);
    if (queue) queue.push(item);
    else queues.set(key, [item]);
  }
  const failures: unknown[] = [];
  const lanes: Promise<void>[] = [];
  for (const queue of queues.values()) {
    let next = 0;
    const lane = async () => {
      while (next < queue.length) {
        const item = queue[next++] as T;
        await work(item).catch((e: unknown) => failures.push(e));
      }
    };
    for (let i = 0; i < Math.min(limit, queue.length); i++) lanes.push(lane());
  }
  await Promise.all(lanes);
  if (failures.length > 0) throw failures[0];
}
