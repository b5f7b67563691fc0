import type { RevokeResult } from './provider.js';

/**
 * Revokes of one principal under way in this process: a second caller joins the first instead of racing it on
 * the target, and shares its outcome (cancellation included). Across processes the target itself decides; this
 * only spares it two identical sequences from one server.
 */
export function joinRevokes(
  revoke: (principal: string, signal: AbortSignal) => Promise<RevokeResult>,
): (principal: string, signal: AbortSignal) => Promise<RevokeResult> {
  const running = new Map<string, Promise<RevokeResult>>();
  return (principal, signal) => {
    const underway = running.get(principal);
    if (underway) return underway;
    const done = revoke(principal, signal).finally(() => running.delete(principal));
    running.set(principal, done);
    return done;
  };
}
