/**
 * The policy's `notifications:` block as the server runs it: named channels, the rules routing events and
 * audiences to them, reminders and retries. Secrets are never here, only the names of the environment variables
 * holding them; the notify capability reads those once when the policy loads.
 */

/** Who an event concerns, as the notifier works it out from the event and the store. */
export const AUDIENCES = ['approvers', 'requester', 'user', 'security'] as const;
export type Audience = (typeof AUDIENCES)[number];

export const CHANNEL_KINDS = ['webhook', 'slack', 'smtp', 'pagerduty'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** An environment variable holding a secret (a URL with a token in it, a signing secret, a password). */
export interface EnvRef {
  env: string;
}

interface ChannelBase {
  name: string;
  /** How long one delivery attempt may take before it counts as failed. */
  timeoutSeconds: number;
  /** Deliveries to this channel in flight at once, per server. */
  concurrency: number;
}

export interface WebhookChannelSpec extends ChannelBase {
  kind: 'webhook';
  url: string | EnvRef;
  /** The Standard Webhooks signing secret (`whsec_…`). */
  secret: EnvRef;
}

export interface SlackChannelSpec extends ChannelBase {
  kind: 'slack';
  /** A Slack incoming-webhook URL: its path is the credential, so it is always an env reference. */
  url: EnvRef;
}

export interface SmtpChannelSpec extends ChannelBase {
  kind: 'smtp';
  host: string;
  port: number;
  /** `tls`: TLS from the first byte (465); `starttls`: upgrade required (587); `none`: plain (a local relay). */
  security: 'tls' | 'starttls' | 'none';
  from: string;
  /** Fixed recipients, besides the people an audience names (e.g. a security mailbox). */
  to: string[];
  auth: { user: string; pass: EnvRef } | null;
}

export interface PagerDutyChannelSpec extends ChannelBase {
  kind: 'pagerduty';
  routingKey: EnvRef;
  /** The Events API v2 endpoint. */
  url: string;
}

export type ChannelSpec = WebhookChannelSpec | SlackChannelSpec | SmtpChannelSpec | PagerDutyChannelSpec;

/**
 * One routing rule. An event matches when its action matches one of `events` (when given) and, when `audience`
 * is given, the event has that audience; the rule's channels then get it, addressed to that audience's people.
 */
export interface NotificationRoute {
  /** Actions, `prefix.*` or `*`; null: any action that has the audience. */
  events: string[] | null;
  audience: Audience | null;
  channels: string[];
}

export interface NotificationsPolicy {
  /** Where people reach this Stint (links in messages: the request page, the acknowledgement). */
  publicUrl: string | null;
  channels: Map<string, ChannelSpec>;
  routes: NotificationRoute[];
  reminders: {
    /** Remind approvers this long before a pending request times out; null: no reminder. */
    approvalSeconds: number | null;
    /** Tell requesters this long before their access ends; null: no warning. */
    expirySeconds: number | null;
  };
  retry: { firstSeconds: number; maxSeconds: number; giveUpAfterSeconds: number };
}
