import type { RequestView } from '../requests/request-types.js';

/** `needs: manager approval — carol`, one line per approval still missing. */
export function needsLines(r: RequestView): string[] {
  return r.waitingFor.map(
    (w) =>
      `needs: ${w.label} approval — ${w.eligible.length > 0 ? w.eligible.join(', ') : 'nobody is eligible'}`,
  );
}

export function wasAutoApproved(r: RequestView): boolean {
  return r.tiers.includes('auto') && r.waitingFor.length === 0 && r.approvedAt !== null;
}

export function resourceRole(r: { resource: string; role: string }): string {
  return `${r.resource}/${r.role}`;
}

/** Loud on purpose: someone removed live access behind Stint's back, and the requester should know. */
export function vanishedLine(r: RequestView, when: (iso: string) => string): string | null {
  if (r.credentialVanishedAt === null) return null;
  return `warning: the credential was removed from the target outside Stint, found ${when(r.credentialVanishedAt)}; access ended then`;
}

/**
 * When access runs out, only while it is still running: an ended request's `expiresAt` is the window it was
 * given, not a time anything will happen.
 */
export function expiresField(r: RequestView, when: (iso: string) => string): string | undefined {
  if (r.expiresAt === null) return undefined;
  if (r.state === 'active' || r.state === 'expired') return when(r.expiresAt);
  return undefined;
}

/** Says whether the credential on the target is gone; null when there is nothing to say. */
export function revocationLine(r: RequestView): string | null {
  if (r.revocation === 'pending') return `revocation pending: ${r.revocationError ?? 'not yet confirmed'}`;
  if (r.revocation === 'done') return 'revocation: done (credential removed from the target)';
  if (r.revocation === 'abandoned')
    return `revocation ABANDONED (check the target by hand): ${r.revocationError}`;
  return null;
}
