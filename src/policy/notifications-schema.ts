import { isIP } from 'node:net';
import { z } from 'zod';
import { parseDuration } from '../domain/duration.js';
import { AUDIENCES, type ChannelSpec, type EnvRef, type NotificationsPolicy } from './notifications-types.js';
import type { PolicyProblem } from './policy-types.js';
import { type Path, strictObject, type YamlSource } from './yaml-source.js';

/**
 * The `notifications:` block of a policy file: its shape here, its cross-references in `checkNotifications`,
 * and what the server runs with in `buildNotifications`. A channel's secrets are environment variable names,
 * never values: the notify capability reads them once when the policy loads.
 *
 * ```yaml
 * notifications:
 *   publicUrl: https://stint.example.com      # links in messages (the request page, the acknowledgement)
 *   channels:
 *     siem: { kind: webhook, url: https://siem.example.com/stint, secret: { env: STINT_SIEM_WEBHOOK_SECRET } }
 *     chat: { kind: slack, url: { env: STINT_SLACK_WEBHOOK_URL } }
 *     mail: { kind: smtp, host: smtp.example.com, port: 587, from: stint@example.com,
 *             auth: { user: stint, pass: { env: STINT_SMTP_PASSWORD } } }
 *     pager: { kind: pagerduty, routingKey: { env: STINT_PAGERDUTY_KEY } }
 *   routes:                                    # every matching rule adds its channels
 *     - { audience: security, channels: [pager, chat] }
 *     - { audience: approvers, channels: [chat, mail] }
 *     - { audience: requester, channels: [mail] }
 *     - { audience: user, channels: [mail] }
 *     - { events: ['*'], channels: [siem] }    # no audience: every matching event, to nobody in particular
 *   reminders: { approval: 1h, expiry: 15m }  # or false
 *   retry: { first: 1s, max: 5m, giveUpAfter: 3d }
 * ```
 */

const NAME = /^[a-z0-9][a-z0-9._-]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const EVENT_PATTERN = /^(\*|[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*(\.\*)?)$/;

const INLINE_SECRET = 'secrets never live in the policy: use { env: VARIABLE }';

const duration = z.string().transform((text, ctx) => {
  try {
    return parseDuration(text);
  } catch (e) {
    ctx.issues.push({ code: 'custom', message: (e as Error).message, input: text });
    return z.NEVER;
  }
});

const envRef = strictObject(
  {
    env: z
      .string()
      .regex(ENV_NAME, { error: 'must be an environment variable name, e.g. STINT_SMTP_PASSWORD' }),
  },
  { unknownKey: (key) => `"${key}": ${INLINE_SECRET}`, notAMap: INLINE_SECRET },
);

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** Plain HTTP only to this host itself: a message carries links and an acknowledgement token. */
export function urlProblem(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname)) return null;
  return 'must be https:// (http:// only to localhost)';
}

const url = z.string().superRefine((text, ctx) => {
  const problem = urlProblem(text);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const common = {
  timeout: duration.optional(),
  concurrency: z.number().int().min(1).max(64).optional(),
};

const webhook = strictObject({
  kind: z.literal('webhook'),
  url: z.union([url, envRef], {
    error: (iss) =>
      iss.input === undefined ? 'required field is missing' : 'must be an https:// URL or { env: VARIABLE }',
  }),
  secret: envRef,
  ...common,
});

const slack = strictObject({
  kind: z.literal('slack'),
  // The URL's path is the credential: inline, it would be a secret in the policy.
  url: envRef,
  ...common,
});

const email = z.email({ error: 'must be an email address' });

const smtp = strictObject({
  kind: z.literal('smtp'),
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65535).optional(),
  security: z.enum(['tls', 'starttls', 'none']).optional(),
  from: email,
  to: z.array(email).optional(),
  auth: strictObject({ user: z.string().min(1), pass: envRef }).optional(),
  ...common,
});

const pagerduty = strictObject({
  kind: z.literal('pagerduty'),
  routingKey: envRef,
  url: url.optional(),
  ...common,
});

const channel = z.discriminatedUnion('kind', [webhook, slack, smtp, pagerduty], {
  error: (iss) =>
    iss.code === 'invalid_union' ? 'kind must be one of: webhook, slack, smtp, pagerduty' : undefined,
});

const route = strictObject({
  events: z
    .array(
      z.string().regex(EVENT_PATTERN, {
        error: 'must be an action (request.created), a family (request.*) or *',
      }),
    )
    .min(1)
    .optional(),
  audience: z.enum(AUDIENCES).optional(),
  channels: z.array(z.string()).min(1),
});

const reminder = z.union([duration, z.literal(false)], { error: 'must be a duration (e.g. 1h) or false' });

export const notificationsSchema = strictObject({
  publicUrl: url.optional(),
  channels: z.record(
    z.string().max(64).regex(NAME, {
      error: 'a channel name must be lowercase letters, digits, ".", "_" or "-"',
    }),
    channel,
  ),
  routes: z.array(route).default([]),
  reminders: strictObject({ approval: reminder.optional(), expiry: reminder.optional() }).optional(),
  retry: strictObject({
    first: duration.optional(),
    max: duration.optional(),
    giveUpAfter: duration.optional(),
  }).optional(),
});

export type NotificationsFile = z.output<typeof notificationsSchema>;

export const NOTIFICATION_DEFAULTS = {
  timeoutSeconds: 10,
  concurrency: 4,
  smtpPort: { tls: 465, starttls: 587, none: 25 },
  pagerDutyUrl: 'https://events.pagerduty.com/v2/enqueue',
  approvalReminderSeconds: 3600,
  expiryWarningSeconds: 15 * 60,
  retry: { firstSeconds: 1, maxSeconds: 300, giveUpAfterSeconds: 3 * 86400 },
} as const;

const isLoopback = (host: string) => LOOPBACK.has(host) || (isIP(host) === 4 && host.startsWith('127.'));

/**
 * What one edit could get wrong across fields: a route naming a channel that does not exist, an e-mail channel
 * with nobody to write to, a password sent in the clear, back-off limits that contradict each other.
 */
export function checkNotifications(file: NotificationsFile | undefined, source: YamlSource): PolicyProblem[] {
  if (!file) return [];
  const problems: PolicyProblem[] = [];
  const at = (...path: Path): Path => ['notifications', ...path];
  const names = new Set(Object.keys(file.channels));
  file.routes.forEach((r, i) => {
    if (r.events === undefined && r.audience === undefined) {
      problems.push(source.problem(at('routes', i), 'give events, an audience, or both'));
    }
    r.channels.forEach((name, j) => {
      const spec = file.channels[name];
      if (!names.has(name) || spec === undefined) {
        const known = [...names].join(', ') || '(none)';
        problems.push(
          source.problem(at('routes', i, 'channels', j), `unknown channel "${name}"; defined: ${known}`),
        );
        return;
      }
      if (spec.kind === 'smtp' && r.audience === undefined && (spec.to ?? []).length === 0) {
        problems.push(
          source.problem(
            at('routes', i, 'channels', j),
            `e-mail channel "${name}" gets events addressed to nobody in particular: give it a "to" list`,
          ),
        );
      }
    });
  });
  for (const [name, spec] of Object.entries(file.channels)) {
    if (spec.kind === 'smtp' && spec.security === 'none' && spec.auth && !isLoopback(spec.host)) {
      problems.push(
        source.problem(
          at('channels', name, 'auth'),
          'a password over plain SMTP is refused: use tls or starttls',
        ),
      );
    }
  }
  const first = file.retry?.first ?? NOTIFICATION_DEFAULTS.retry.firstSeconds;
  const max = file.retry?.max ?? NOTIFICATION_DEFAULTS.retry.maxSeconds;
  if (first > max) {
    const where = file.retry?.first !== undefined ? 'first' : 'max';
    problems.push(
      source.problem(at('retry', where), `the first wait (${first}s) is longer than the longest (${max}s)`),
    );
  }
  return problems;
}

const envOf = (ref: { env: string }): EnvRef => ({ env: ref.env });

export function buildNotifications(file: NotificationsFile): NotificationsPolicy {
  const d = NOTIFICATION_DEFAULTS;
  const channels = new Map<string, ChannelSpec>();
  for (const [name, c] of Object.entries(file.channels)) {
    const base = {
      name,
      timeoutSeconds: c.timeout ?? d.timeoutSeconds,
      concurrency: c.concurrency ?? d.concurrency,
    };
    switch (c.kind) {
      case 'webhook':
        channels.set(name, {
          ...base,
          kind: 'webhook',
          url: typeof c.url === 'string' ? c.url : envOf(c.url),
          secret: envOf(c.secret),
        });
        break;
      case 'slack':
        channels.set(name, { ...base, kind: 'slack', url: envOf(c.url) });
        break;
      case 'smtp': {
        const security = c.security ?? 'starttls';
        channels.set(name, {
          ...base,
          kind: 'smtp',
          host: c.host,
          port: c.port ?? d.smtpPort[security],
          security,
          from: c.from,
          to: [...new Set(c.to ?? [])],
          auth: c.auth ? { user: c.auth.user, pass: envOf(c.auth.pass) } : null,
        });
        break;
      }
      case 'pagerduty':
        channels.set(name, {
          ...base,
          kind: 'pagerduty',
          routingKey: envOf(c.routingKey),
          url: c.url ?? d.pagerDutyUrl,
        });
        break;
    }
  }
  const remind = (v: number | false | undefined, byDefault: number) =>
    v === false ? null : (v ?? byDefault);
  return {
    publicUrl: file.publicUrl?.replace(/\/+$/, '') ?? null,
    channels,
    routes: file.routes.map((r) => ({
      events: r.events ? [...new Set(r.events)] : null,
      audience: r.audience ?? null,
      channels: [...new Set(r.channels)],
    })),
    reminders: {
      approvalSeconds: remind(file.reminders?.approval, d.approvalReminderSeconds),
      expirySeconds: remind(file.reminders?.expiry, d.expiryWarningSeconds),
    },
    retry: {
      firstSeconds: file.retry?.first ?? d.retry.firstSeconds,
      maxSeconds: file.retry?.max ?? d.retry.maxSeconds,
      giveUpAfterSeconds: file.retry?.giveUpAfter ?? d.retry.giveUpAfterSeconds,
    },
  };
}
