import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAuditWriter } from '../../src/audit/audit-writer.js';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { isStintError, type StintError } from '../../src/domain/errors.js';
import { silentLogger } from '../../src/logger.js';
import { resolveChannels } from '../../src/notify/channels/resolve.js';
import { createNotifyModule } from '../../src/notify/notify-module.js';
import { PolicyError } from '../../src/policy/policy-error.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import { createRequestStore } from '../../src/store/request-store.js';
import { createTestStore } from '../support/stores.js';
import { withNotifications } from './fixtures.js';
import { newWebhookSecret } from './receivers.js';

const FILE = 'policies/stint.yaml';

function problemsOf(block: string) {
  const text = withNotifications(block);
  try {
    parsePolicy(text, FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyError);
    return { text, problems: (e as PolicyError).problems, message: (e as PolicyError).message };
  }
  throw new Error('the policy loaded');
}

/** 1-based line and column of `needle` in `text`, as the loader reports a problem's place. */
function at(text: string, needle: string) {
  const lines = text.split('\n');
  const line = lines.findIndex((l) => l.includes(needle));
  if (line < 0) throw new Error(`"${needle}" is not in the text`);
  return { line: line + 1, column: (lines[line] as string).indexOf(needle) + 1 };
}

describe('the notifications block of a policy', () => {
  it('builds channels, routes and the defaults a server runs with', () => {
    const policy = parsePolicy(
      withNotifications(`
publicUrl: https://stint.example.com/
channels:
  hook: { kind: webhook, url: https://siem.example.com/in, secret: { env: SIEM_SECRET } }
  chat: { kind: slack, url: { env: SLACK_URL }, timeout: 5s, concurrency: 2 }
  mail: { kind: smtp, host: smtp.example.com, from: stint@example.com, auth: { user: stint, pass: { env: SMTP_PASS } } }
  pager: { kind: pagerduty, routingKey: { env: PD_KEY } }
routes:
  - { audience: security, channels: [pager, chat] }
  - { events: ['request.*', grant.activated], audience: requester, channels: [mail, mail] }
reminders: { approval: false }
`),
      FILE,
    );
    const n = policy.notifications;
    expect(n?.publicUrl).toBe('https://stint.example.com');
    expect(n?.channels.get('hook')).toEqual({
      name: 'hook',
      kind: 'webhook',
      url: 'https://siem.example.com/in',
      secret: { env: 'SIEM_SECRET' },
      timeoutSeconds: 10,
      concurrency: 4,
    });
    expect(n?.channels.get('chat')).toMatchObject({ timeoutSeconds: 5, concurrency: 2 });
    expect(n?.channels.get('mail')).toMatchObject({ port: 587, security: 'starttls', to: [] });
    expect(n?.channels.get('pager')).toMatchObject({ url: 'https://events.pagerduty.com/v2/enqueue' });
    expect(n?.routes[1]).toEqual({
      events: ['request.*', 'grant.activated'],
      audience: 'requester',
      channels: ['mail'],
    });
    expect(n?.reminders).toEqual({ approvalSeconds: null, expirySeconds: 900 });
    expect(n?.retry).toEqual({ firstSeconds: 1, maxSeconds: 300, giveUpAfterSeconds: 259_200 });
    // A policy without the block notifies nobody.
    expect(parsePolicy(withNotifications('channels: {}'), FILE).notifications?.channels.size).toBe(0);
  });

  it('refuses a route to a channel that does not exist, at its file:line:column', () => {
    const { text, problems, message } = problemsOf(`
channels:
  chat: { kind: slack, url: { env: SLACK_URL } }
routes:
  - { audience: security, channels: [chat, pagr] }
`);
    expect(problems).toEqual([
      {
        file: FILE,
        ...at(text, 'pagr'),
        field: 'notifications.routes[0].channels[1]',
        message: 'unknown channel "pagr"; defined: chat',
      },
    ]);
    expect(message).toContain(
      `${FILE}:${at(text, 'pagr').line}:${at(text, 'pagr').column}: notifications.routes[0]`,
    );
  });

  it('refuses a secret written into the policy, without repeating it', () => {
    const inline = `https://hooks.slack.com/services/T000/B000/${randomBytes(12).toString('hex')}`;
    const whsec = newWebhookSecret();
    const { text, problems, message } = problemsOf(`
channels:
  chat: { kind: slack, url: '${inline}' }
  hook: { kind: webhook, url: https://siem.example.com, secret: '${whsec}' }
  pager: { kind: pagerduty, routingKey: { env: PD_KEY, value: abc } }
`);
    expect(problems.map((p) => [p.field, p.message, p.line])).toEqual([
      [
        'notifications.channels.chat.url',
        'secrets never live in the policy: use { env: VARIABLE }',
        at(text, inline).line,
      ],
      [
        'notifications.channels.hook.secret',
        'secrets never live in the policy: use { env: VARIABLE }',
        at(text, whsec).line,
      ],
      [
        'notifications.channels.pager.routingKey.value',
        '"value": secrets never live in the policy: use { env: VARIABLE }',
        at(text, 'value: abc').line,
      ],
    ]);
    expect(message).not.toContain(inline);
    expect(message).not.toContain(whsec);
  });

  it('refuses plain http to another host, an unknown kind, a bad event pattern, each at its place', () => {
    const { text, problems } = problemsOf(`
channels:
  hook: { kind: webhook, url: http://siem.example.com/in, secret: { env: S } }
  sms: { kind: twilio }
routes:
  - { events: ['request.*.x*'], channels: [hook] }
`);
    const byField = Object.fromEntries(problems.map((p) => [p.field, p]));
    expect(byField['notifications.channels.hook.url']).toMatchObject({
      message: 'must be https:// (http:// only to localhost)',
      ...at(text, 'http://siem'),
    });
    expect(byField['notifications.channels.sms.kind']?.message).toBe(
      'kind must be one of: webhook, slack, smtp, pagerduty',
    );
    expect(byField['notifications.routes[0].events[0]']).toMatchObject({
      message: 'must be an action (request.created), a family (request.*) or *',
      ...at(text, "'request.*.x*'"),
    });
  });

  it('refuses mail to nobody, a password in the clear, a rule with nothing to match, back-off upside down', () => {
    const { text, problems } = problemsOf(`
channels:
  hook: { kind: webhook, url: https://siem.example.com/in, secret: { env: S } }
  relay: { kind: smtp, host: mail.example.com, security: none, from: stint@example.com, auth: { user: u, pass: { env: P } } }
  local: { kind: smtp, host: 127.0.0.1, security: none, from: stint@example.com, auth: { user: u, pass: { env: P } } }
routes:
  - { events: ['*'], channels: [relay] }
  - { channels: [hook] }
retry: { first: 10m, max: 1m }
`);
    const byField = Object.fromEntries(problems.map((p) => [p.field, p]));
    expect(Object.keys(byField).sort()).toEqual([
      'notifications.channels.relay.auth',
      'notifications.retry.first',
      'notifications.routes[0].channels[0]',
      'notifications.routes[1]',
    ]);
    expect(byField['notifications.channels.relay.auth']).toMatchObject({
      message: 'a password over plain SMTP is refused: use tls or starttls',
      line: at(text, 'relay:').line,
    });
    expect(byField['notifications.routes[0].channels[0]']?.message).toBe(
      'e-mail channel "relay" gets events addressed to nobody in particular: give it a "to" list',
    );
    expect(byField['notifications.routes[1]']?.message).toBe('give events, an audience, or both');
    expect(byField['notifications.retry.first']).toMatchObject({
      message: 'the first wait (600s) is longer than the longest (60s)',
      ...at(text, '10m'),
    });
  });
});

describe('channel secrets are read once, when the policy loads', () => {
  const block = (extra = '') =>
    parsePolicy(
      withNotifications(`
channels:
  hook: { kind: webhook, url: https://siem.example.com/in, secret: { env: NT_TEST_HOOK_SECRET } }
  chat: { kind: slack, url: { env: NT_TEST_SLACK_URL } }
${extra}`),
      FILE,
    ).notifications;

  it('a variable that is not set refuses the policy: CONFIG_INVALID naming it, never a value', () => {
    const env = { NT_TEST_HOOK_SECRET: newWebhookSecret() };
    let error: unknown;
    try {
      resolveChannels(block(), env);
    } catch (e) {
      error = e;
    }
    expect(isStintError(error)).toBe(true);
    const e = error as StintError<'CONFIG_INVALID'>;
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.details).toEqual({ variable: 'NT_TEST_SLACK_URL' });
    expect(e.message).toBe('notifications channel "chat": env NT_TEST_SLACK_URL is not set');
  });

  it('a malformed secret or a URL in a variable is refused the same way, without quoting it', () => {
    const short = `whsec_${randomBytes(8).toString('base64')}`;
    expect(() =>
      resolveChannels(block(), { NT_TEST_HOOK_SECRET: short, NT_TEST_SLACK_URL: 'https://x.example' }),
    ).toThrow(/env NT_TEST_HOOK_SECRET must be 24 to 64 bytes once base64-decoded \(it is 8\)/);
    const plain = 'http://hooks.example.com/T/B/secret-path';
    try {
      resolveChannels(block(), { NT_TEST_HOOK_SECRET: newWebhookSecret(), NT_TEST_SLACK_URL: plain });
      throw new Error('resolved');
    } catch (e) {
      expect((e as StintError).code).toBe('CONFIG_INVALID');
      expect((e as Error).message).toBe(
        'notifications channel "chat": env NT_TEST_SLACK_URL must be https:// (http:// only to localhost)',
      );
      expect((e as Error).message).not.toContain('secret-path');
    }
  });

  it('the server does not start with a channel whose secret is missing', async () => {
    const { store, close } = await createTestStore('sqlite');
    try {
      const policy = parsePolicy(
        withNotifications(`
channels:
  pager: { kind: pagerduty, routingKey: { env: NT_TEST_NOT_SET_${randomBytes(4).toString('hex').toUpperCase()} } }
`),
        FILE,
      );
      expect(() =>
        createNotifyModule({
          store,
          audit: createAuditWriter([]),
          requests: createRequestStore(store.dialect),
          policy: { current: () => policy },
          secrets: createSecretBox(randomBytes(32)),
          clock: () => new Date(),
          logger: silentLogger,
          env: {},
        }),
      ).toThrow(/CONFIG_INVALID|env NT_TEST_NOT_SET_\w+ is not set/);
    } finally {
      await close();
    }
  });
});
