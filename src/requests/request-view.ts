import { openSlots } from '../domain/approval.js';
import type { AccessRequest } from '../domain/request.js';
import type { GrantRow } from '../store/grant-store.js';
import type { RequestView, RevocationStatus } from './request-types.js';

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

export function toRequestView(r: AccessRequest, grant: GrantRow | undefined): RequestView {
  return {
    id: r.id,
    requester: r.requester,
    resource: r.resource,
    role: r.role,
    reason: r.reason,
    durationSeconds: r.durationSeconds,
    state: r.state,
    tiers: r.tiers,
    waitingFor:
      r.state === 'pending'
        ? openSlots(r).map((s) => ({ tier: s.tier, label: s.label, eligible: s.eligible }))
        : [],
    eligibleApprovers: [...new Set(r.slots.flatMap((s) => s.eligible))].sort(),
    reviews: r.reviews.map((v) => ({ ...v, at: v.at.toISOString() })),
    policyVersion: r.policyVersion,
    ruleId: r.ruleId,
    createdAt: r.createdAt.toISOString(),
    pendingUntil: r.pendingUntil.toISOString(),
    approvedAt: iso(r.approvedAt),
    activatedAt: iso(r.activatedAt),
    expiresAt: iso(r.expiresAt),
    endedAt: iso(r.endedAt),
    endedBy: r.endedBy,
    endReason: r.endReason,
    revocation: (grant?.revocation ?? 'none') as RevocationStatus,
    revocationError: grant?.revoke_error ?? null,
    credentialShown: grant?.credential_shown_at != null,
    credentialVanishedAt: grant?.vanished_at == null ? null : new Date(grant.vanished_at).toISOString(),
  };
}
