import { readMark } from './binding-mark.js';
import { changePolicy } from './change-policy.js';
import type { GcpTarget } from './iam-api.js';

/**
 * Removes this store's bindings of one principal from one service account; true when any was there. With `fence`
 * the policy is written even when nothing changes: the new etag makes a write of ours still on its way (sent, then
 * cut) fail when it arrives, instead of adding its binding after this looked.
 */
export async function removeBindings(
  t: GcpTarget,
  email: string,
  principal: string,
  signal: AbortSignal,
  fence = false,
): Promise<boolean> {
  let removed = false;
  await changePolicy(t, email, signal, (bindings) => {
    const kept = bindings.filter((b) => {
      const mark = readMark(b);
      return !(mark?.principal === principal && mark.storeId === t.owner.storeId);
    });
    removed = kept.length < bindings.length;
    return removed || fence ? kept : null;
  });
  return removed;
}
