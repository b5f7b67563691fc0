/**
 * Runs a provider's target call and turns whatever it throws into the kind's own failure (its class, its
 * cancellation by deadline or caller), through the admin connection's `fail`. One wrapper for every kind that
 * reaches its target through an admin handle.
 */
export function guardCalls(fail: (action: string, err: unknown, signal: AbortSignal) => unknown) {
  return async function guarded<T>(action: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw fail(action, err, signal);
    }
  };
}
