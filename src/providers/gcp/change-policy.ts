import { StintError } from '../../domain/errors.js';
import { cancelledError } from '../provider.js';
import type { GcpTarget, IamBinding } from './iam-api.js';

/** Concurrent writers of one policy (two grants at once, another tool) are retried this often. */
const ATTEMPTS = 6;

const isEtagConflict = (err: unknown) =>
  err instanceof StintError &&
  err.code === 'PROVIDER_ERROR' &&
  /ABORTED|concurrent policy changes/.test(err.message);

function pause(ms: number, signal: AbortSignal, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(cancelledError(what, signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelledError(what, signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Read-modify-write of a service account's IAM policy with etag concurrency, as Google documents it: the policy
 * read, changed, and written back with the etag it was read with; a write another writer beat (409 ABORTED) is
 * done again from a fresh read. `change` answers the new bindings, or null when nothing needs writing; the
 * answer is whether a write was made.
 */
export async function changePolicy(
  t: GcpTarget,
  email: string,
  signal: AbortSignal,
  change: (bindings: IamBinding[]) => IamBinding[] | null,
): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    const policy = await t.getPolicy(email, signal);
    const next = change(policy.bindings ?? []);
    if (next === null) return false;
    try {
      // Version 3: the only one that carries conditions; other fields go back as they came.
      await t.setPolicy(email, { ...policy, version: 3, etag: policy.etag, bindings: next }, signal);
      return true;
    } catch (err) {
      if (!isEtagConflict(err) || attempt === ATTEMPTS) throw err;
      await pause(
        20 * 2 ** attempt * (0.5 + Math.random()),
        signal,
        `gcp target ${t.config.resourceId}: write the policy of ${email}`,
      );
    }
  }
}
