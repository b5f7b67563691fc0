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

/** Says whether the credential on the target is gone; null when there is nothing to say. */
export function revocationLine(r: RequestView): string | null {
  if (r.revocation === 'pending') return `revocation pending: ${r.revocationError ?? 'not yet confirmed'}`;
  if (r.revocation === 'done') return 'revocation: done (credential removed from the target)';
  return null;
}
