import { StintError } from '../../domain/errors.js';
import { urlProblem } from '../../policy/notifications-schema.js';
import type { ChannelSpec, EnvRef, NotificationsPolicy } from '../../policy/notifications-types.js';
import type { Channel, ChannelSet } from './channel.js';
import { pagerDutyChannel } from './pagerduty.js';
import { slackChannel } from './slack.js';
import { smtpChannel } from './smtp.js';
import { webhookChannel, webhookSecretProblem } from './webhook.js';

export type Env = Readonly<Record<string, string | undefined>>;

function invalid(channel: string, problem: string, variable?: string): StintError {
  return new StintError('CONFIG_INVALID', `notifications channel "${channel}": ${problem}`, {
    ...(variable ? { variable } : {}),
  });
}

/** The value of an env reference; messages name the variable, never what it holds. */
function read(channel: string, ref: EnvRef, env: Env): string {
  const value = env[ref.env]?.trim();
  if (!value) throw invalid(channel, `env ${ref.env} is not set`, ref.env);
  return value;
}

function urlFrom(channel: string, url: string | EnvRef, env: Env): string {
  if (typeof url === 'string') return url;
  const value = read(channel, url, env);
  const problem = urlProblem(value);
  if (problem) throw invalid(channel, `env ${url.env} ${problem}`, url.env);
  return value;
}

function resolveOne(spec: ChannelSpec, env: Env, clock: () => Date): Channel {
  const timeoutMs = spec.timeoutSeconds * 1000;
  const { name, concurrency } = spec;
  switch (spec.kind) {
    case 'webhook': {
      const secret = read(name, spec.secret, env);
      const problem = webhookSecretProblem(secret);
      if (problem) throw invalid(name, `env ${spec.secret.env} ${problem}`, spec.secret.env);
      return webhookChannel({
        name,
        url: urlFrom(name, spec.url, env),
        secret,
        timeoutMs,
        concurrency,
        clock,
      });
    }
    case 'slack':
      return slackChannel({ name, url: urlFrom(name, spec.url, env), timeoutMs, concurrency });
    case 'smtp':
      return smtpChannel(spec, spec.auth ? read(name, spec.auth.pass, env) : null);
    case 'pagerduty':
      return pagerDutyChannel({
        name,
        url: spec.url,
        routingKey: read(name, spec.routingKey, env),
        timeoutMs,
        concurrency,
      });
  }
}

/**
 * Every channel of a policy, its secrets read from `env` once, when the policy loads: a missing or malformed
 * one refuses the policy (CONFIG_INVALID naming the variable), at boot or at reload, never at the first alert.
 */
export function resolveChannels(
  policy: NotificationsPolicy | undefined,
  env: Env,
  clock: () => Date = () => new Date(),
): ChannelSet {
  const out = new Map<string, Channel>();
  for (const spec of policy?.channels.values() ?? []) out.set(spec.name, resolveOne(spec, env, clock));
  return out;
}
