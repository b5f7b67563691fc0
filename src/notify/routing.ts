import { openSlots } from '../domain/approval.js';
import type { AccessRequest } from '../domain/request.js';
import type { Audience, NotificationsPolicy } from '../policy/notifications-types.js';
import type { DirectoryUser } from '../policy/policy-types.js';
import type { CommittedEvent } from './cursor.js';

/** Events that ask the request's approvers to act, while it is still pending. */
const FOR_APPROVERS = new Set(['request.created', 'request.reviewed', 'request.reminder']);

/** Decisions on a request, and what becomes of the access, told to the person who asked. */
const FOR_REQUESTER = new Set([
  'request.approved',
  'request.denied',
  'request.timed_out',
  'request.failed',
  'grant.activated',
  'grant.revoked',
  'grant.expiring',
]);

/** Events for the security team whatever they carry: session reviews coming due or overdue (src/recording). */
const FOR_SECURITY = new Set(['session_review.due_soon', 'session_review.overdue']);

/** The audience words an event may name under `details.notify`, beside user ids. */
const AUDIENCE_WORDS = new Set<string>(['security', 'approvers', 'requester']);

/** Whether working out the event's audiences needs the request it is about (a read the router spares otherwise). */
export function concernsRequest(event: CommittedEvent): boolean {
  if (event.requestId === null) return false;
  if (FOR_APPROVERS.has(event.action) || FOR_REQUESTER.has(event.action)) return true;
  return strings(event.details.notify).some((n) => n === 'approvers' || n === 'requester');
}

/** The people each audience of one event names; an audience the event does not have is absent. */
export type EventAudiences = Partial<Record<Audience, string[]>>;

export interface RoutingContext {
  /** The request the event is about, as it is now (null: none, or gone). */
  request: AccessRequest | null;
  users: ReadonlyMap<string, DirectoryUser>;
}

const strings = (v: unknown): string[] =>
  Array.isArray(v)
    ? v.filter((x): x is string => typeof x === 'string' && x.length > 0 && x.length <= 200)
    : [];

function approversOf(r: AccessRequest): string[] {
  const reviewed = new Set(r.reviews.map((v) => v.reviewer));
  const open = openSlots(r).flatMap((s) => s.eligible);
  return [...new Set(open)].filter((u) => u !== r.requester && !reviewed.has(u)).sort();
}

/**
 * Who an event concerns. Approvers: those who may still fill an open slot of a request that is still pending
 * (by the time the notifier reads the event; a request decided meanwhile bothers nobody). Requester: the
 * person who asked, of decisions and of access about to end, unless they did it themselves. User: the people
 * the event names under `details.notify` (a factor changed, a session made for them on the host, a postmortem
 * they own). Security: the security team, for anything with `details.alert: true` or naming `security`, and for
 * session reviews coming due or overdue.
 */
export function audiencesOf(event: CommittedEvent, ctx: RoutingContext): EventAudiences {
  const out: EventAudiences = {};
  const details = event.details;
  const named = strings(details.notify);
  const words = new Set(named.filter((n) => AUDIENCE_WORDS.has(n)));
  const r = ctx.request;
  if (r && r.state === 'pending' && (FOR_APPROVERS.has(event.action) || words.has('approvers'))) {
    const people = approversOf(r);
    if (people.length > 0) out.approvers = people;
  }
  if (r && (FOR_REQUESTER.has(event.action) || words.has('requester')) && event.actor !== r.requester) {
    out.requester = [r.requester];
  }
  const users = [...new Set(named.filter((n) => !AUDIENCE_WORDS.has(n)))];
  if (users.length > 0) out.user = users;
  if (details.alert === true || words.has('security') || FOR_SECURITY.has(event.action)) {
    // The audience exists even with nobody in it: a pager or a chat channel needs no person to be told.
    out.security = [...ctx.users.values()].filter((u) => u.security).map((u) => u.id);
  }
  return out;
}

/** `*`, `request.*` (the family and anything under it) or an exact action. */
export function actionMatches(patterns: readonly string[], action: string): boolean {
  return patterns.some((p) => {
    if (p === '*') return true;
    if (p.endsWith('.*')) return action.startsWith(p.slice(0, -1));
    return p === action;
  });
}

/** What one channel gets for one event: why (the audiences) and for whom. */
export interface PlannedDelivery {
  channel: string;
  audiences: string[];
  recipients: string[];
}

/** How many channels an event may name itself (`details.channels`): a break-glass set lists a few. */
const MAX_NAMED_CHANNELS = 20;

/**
 * Which channels get an event: every routing rule it matches (its action, and its audience when the rule names
 * one) ∪ the channels the event names itself (`details.channels`, a break-glass resource set's) ∪, for an
 * alert, every channel routed to security. One delivery per channel, addressed to the union of its people.
 */
export function plan(
  event: CommittedEvent,
  audiences: EventAudiences,
  policy: NotificationsPolicy | undefined,
): PlannedDelivery[] {
  const byChannel = new Map<string, { audiences: Set<string>; recipients: Set<string> }>();
  const add = (channel: string, why: string, people: readonly string[]) => {
    let entry = byChannel.get(channel);
    if (!entry) {
      entry = { audiences: new Set(), recipients: new Set() };
      byChannel.set(channel, entry);
    }
    entry.audiences.add(why);
    for (const p of people) entry.recipients.add(p);
  };
  for (const rule of policy?.routes ?? []) {
    if (rule.events !== null && !actionMatches(rule.events, event.action)) continue;
    if (rule.audience === null) {
      for (const c of rule.channels) add(c, 'events', []);
      continue;
    }
    const people = audiences[rule.audience];
    if (people === undefined) continue;
    for (const c of rule.channels) add(c, rule.audience, people);
  }
  for (const c of strings(event.details.channels).slice(0, MAX_NAMED_CHANNELS)) {
    add(c, 'named', audiences.security ?? []);
  }
  return [...byChannel.entries()]
    .map(([channel, e]) => ({
      channel,
      audiences: [...e.audiences].sort(),
      recipients: [...e.recipients].sort(),
    }))
    .sort((a, b) => a.channel.localeCompare(b.channel));
}
