import type { AuditEventBody } from '../audit/audit-event.js';
import { formatDuration } from '../domain/duration.js';
import type { DirectoryUser } from '../policy/policy-types.js';
import type { DeliveryRow } from './deliveries.js';

export type Severity = 'critical' | 'error' | 'warning' | 'info';

/**
 * What every channel is given to send, and what a generic webhook receives as its body. It is rendered afresh
 * for each attempt from the signed event and the delivery row, so every attempt carries the same content.
 */
export interface NotificationMessage {
  type: 'stint.notification';
  version: 1;
  /** The de-duplication key: the same on every attempt, from every server. */
  deliveryId: string;
  channel: string;
  /** The deployment (policy `settings.deployment`) the event comes from. */
  deployment: string;
  summary: string;
  severity: Severity;
  /** Why this channel got the event: the audiences routed to it (`events`: a rule naming no audience). */
  audiences: string[];
  recipients: { id: string; name: string | null; email: string | null }[];
  /** The audit event as signed (docs/audit.md): its `seq` and `id` find it in the trail. */
  event: AuditEventBody;
  links: {
    /**
     * The request's page in the portal. Approving there asks for a second factor: no message carries a link or
     * button that approves by itself.
     */
    request: string | null;
  };
  /** POST `{ "token": … }` to `url` (or `path` on your Stint) to acknowledge; `stint notifications ack` does it. */
  ack: { path: string; url: string | null; token: string };
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

function what(e: AuditEventBody): string {
  const t = e.target;
  if (t?.role && t.resource) return `${t.role} on ${t.resource}`;
  const resource = str(e.details.resource);
  const role = str(e.details.role);
  if (role && resource) return `${role} on ${resource}`;
  return resource ?? e.requestId ?? 'Stint';
}

const when = (v: unknown) => str(v) ?? 'soon';

/** One line a person reads first: in a chat message, a subject, a page's summary. */
export function summarize(e: AuditEventBody): string {
  const d = e.details;
  const req = e.requestId ? ` (${e.requestId})` : '';
  switch (e.action) {
    case 'request.created': {
      const secs = typeof d.durationSeconds === 'number' ? ` for ${formatDuration(d.durationSeconds)}` : '';
      return `${e.actor} asks for ${what(e)}${secs}: "${str(d.reason) ?? ''}"; waiting for approval${req}`;
    }
    case 'request.reviewed':
      return `${e.actor} approved the request for ${what(e)}; it still needs more approvals${req}`;
    case 'request.reminder':
      return `Reminder: the request for ${what(e)} times out at ${when(d.pendingUntil)} unless approved${req}`;
    case 'request.approved':
      return `Approved: ${what(e)}${req}`;
    case 'request.denied':
      return `Denied by ${e.actor}: ${what(e)}${req}`;
    case 'request.timed_out':
      return `Timed out without approval: ${what(e)}${req}`;
    case 'request.failed':
      return `Access could not be issued: ${what(e)}${req}`;
    case 'grant.activated':
      return `Access ready: ${what(e)} until ${when(d.expiresAt)}${req}`;
    case 'grant.revoked':
      return `Access revoked by ${e.actor}: ${what(e)}${req}`;
    case 'grant.expiring':
      return `Access to ${what(e)} ends at ${when(d.expiresAt)}${req}`;
    case 'grant.revocation_overdue':
      return `ALERT: revoking ${str(d.principal) ?? 'a grant'} on ${str(d.resource) ?? '?'} is failing (${str(d.class) ?? 'unknown'})${req}`;
    case 'grant.revocation_abandoned':
      return `ALERT: revocation abandoned for ${str(d.principal) ?? 'a grant'} on ${str(d.resource) ?? '?'}: a person must remove it${req}`;
    case 'grant.expired_late':
      return `ALERT: an expiry was recorded late (${String(d.lateMs ?? '?')} ms)${req}`;
    case 'session.host-created':
      return `A session was made for ${str(d.user) ?? '?'} on host ${str(d.host) ?? '?'} by ${str(d.by) ?? '?'}`;
    case 'token.host-created':
      return `An API token (${str(d.name) ?? '?'}, ${Array.isArray(d.scopes) ? d.scopes.join(' ') : 'full power'}) was made for ${str(d.user) ?? '?'} on host ${str(d.host) ?? '?'} by ${str(d.by) ?? '?'}`;
    case 'token.host-revoked':
      return `The API token ${str(d.name) ?? '?'} of ${str(d.user) ?? '?'} was revoked on host ${str(d.host) ?? '?'} by ${str(d.by) ?? '?'}`;
    case 'token.revoked':
      return `The API token ${str(d.name) ?? '?'} of ${str(d.user) ?? '?'} was revoked by ${e.actor}`;
    case 'breakglass.invoked':
      return `BREAK-GLASS: ${str(d.holder) ?? e.actor} invoked ${str(d.role) ?? '?'} on ${str(d.resource) ?? '?'}: "${str(d.reason) ?? ''}"`;
    case 'breakglass.escalated':
      return `BREAK-GLASS not acknowledged: escalation level ${String(d.level ?? '?')} (invoked at seq ${String(d.invokedSeq ?? '?')})`;
    case 'postmortem.opened':
    case 'postmortem.reminder':
    case 'postmortem.overdue':
      return `Postmortem ${str(d.postmortemId) ?? '?'} (${str(d.owner) ?? '?'}) due ${when(d.due)}: ${e.action.slice('postmortem.'.length)}`;
    case 'drill.failed':
      return `ALERT: break-glass drill ${str(d.drillId) ?? '?'} failed at ${str(d.step) ?? '?'}`;
    default:
      if (e.action.startsWith('mfa.')) {
        return `Second factors of ${str(d.user) ?? e.actor}: ${e.action} by ${e.actor}`;
      }
      return `${d.alert === true ? 'ALERT: ' : ''}${e.action} by ${e.actor}${e.target ? ` on ${what(e)}` : ''}${req}`;
  }
}

export function severityOf(e: AuditEventBody): Severity {
  if (e.details.alert === true) return 'critical';
  if (e.result === 'failure') return 'error';
  if (e.action === 'request.reminder' || e.action === 'grant.expiring' || e.action === 'postmortem.overdue') {
    return 'warning';
  }
  return 'info';
}

export const ackPath = (deliveryId: string) => `/v1/notifications/deliveries/${deliveryId}/ack`;

export function render(input: {
  row: DeliveryRow;
  event: AuditEventBody;
  deployment: string;
  publicUrl: string | null;
  users: ReadonlyMap<string, DirectoryUser>;
  ackToken: string;
}): NotificationMessage {
  const { row, event, publicUrl } = input;
  const recipients = (JSON.parse(row.recipients) as string[]).map((id) => {
    const u = input.users.get(id);
    return { id, name: u?.name ?? null, email: u?.email ?? null };
  });
  const path = ackPath(row.id);
  return {
    type: 'stint.notification',
    version: 1,
    deliveryId: row.id,
    channel: row.channel,
    deployment: input.deployment,
    summary: summarize(event),
    severity: severityOf(event),
    audiences: JSON.parse(row.audiences) as string[],
    recipients,
    event,
    links: {
      request:
        publicUrl && event.requestId ? `${publicUrl}/requests/${encodeURIComponent(event.requestId)}` : null,
    },
    ack: { path, url: publicUrl ? `${publicUrl}${path}` : null, token: input.ackToken },
  };
}

/** The plain text of a message for people (e-mail body, chat fallback). */
export function plainText(m: NotificationMessage): string {
  const lines = [m.summary, ''];
  if (m.links.request)
    lines.push(`Open the request (approving asks for your second factor): ${m.links.request}`);
  lines.push(
    `Event: ${m.event.action} #${m.event.seq} at ${m.event.time} by ${m.event.actor}`,
    `Deployment: ${m.deployment}`,
    '',
    `Acknowledge: stint notifications ack ${m.deliveryId} --token ${m.ack.token}`,
  );
  if (m.ack.url) lines.push(`  or POST {"token": "${m.ack.token}"} to ${m.ack.url}`);
  lines.push(`Delivery: ${m.deliveryId}`);
  return lines.join('\n');
}
