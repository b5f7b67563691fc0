import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { Webhook } from 'standardwebhooks';

/** A Standard Webhooks secret as a sender and a receiver share it. */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

export interface Received {
  /** The de-duplication key the sender gave: webhook-id, dedup_key or Message-ID. */
  id: string;
  // biome-ignore lint/suspicious/noExplicitAny: receivers inspect bodies field by field
  body: any;
  at: number;
}

/** What a receiver does with the next request: answer, fail, hang, or drop the connection. */
export type Behaviour = { kind: 'ok' } | { kind: 'status'; status: number } | { kind: 'delay'; ms: number };

export interface HttpReceiver {
  url: string;
  port: number;
  /** Everything accepted (verified and answered 2xx), repeats included, in arrival order. */
  received: Received[];
  /** Requests refused because they did not check out (bad signature, bad body): must stay empty. */
  rejected: string[];
  /** Distinct ids accepted. */
  ids(): Set<string>;
  behave(b: Behaviour): void;
  /** Stops listening (connections refused) until `up()`, on the same port. */
  down(): Promise<void>;
  up(): Promise<void>;
  waitFor(predicate: (r: Received[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      text += c;
    });
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

/**
 * A local HTTP receiver. `check` validates one request as the real service would (signature, body shape) and
 * returns its de-duplication id, or throws to refuse it (400, recorded in `rejected`).
 */
async function startHttpReceiver(
  check: (body: string, headers: IncomingMessage['headers']) => { id: string; body: unknown },
  okStatus = 200,
): Promise<HttpReceiver> {
  const received: Received[] = [];
  const rejected: string[] = [];
  let behaviour: Behaviour = { kind: 'ok' };
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const text = await readBody(req);
    const b = behaviour;
    if (b.kind === 'status') {
      res.writeHead(b.status).end();
      return;
    }
    if (b.kind === 'delay') await new Promise((r) => setTimeout(r, b.ms));
    try {
      const { id, body } = check(text, req.headers);
      received.push({ id, body, at: Date.now() });
      res.writeHead(okStatus, { 'content-type': 'application/json' }).end('{"status":"success"}');
    } catch (e) {
      rejected.push((e as Error).message);
      res.writeHead(400).end();
    }
  };
  let server: Server = createServer((req, res) => void handler(req, res));
  const sockets = new Set<import('node:net').Socket>();
  const track = (s: Server) =>
    s.on('connection', (c) => {
      sockets.add(c);
      c.on('close', () => sockets.delete(c));
    });
  track(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    rejected,
    ids: () => new Set(received.map((r) => r.id)),
    behave(b) {
      behaviour = b;
    },
    down: stop,
    async up() {
      server = createServer((req, res) => void handler(req, res));
      track(server);
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    },
    async waitFor(predicate, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline)
          throw new Error(`receiver: condition not met in ${timeoutMs} ms (${received.length} received)`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: stop,
  };
}

/** A generic webhook endpoint that verifies every request's Standard Webhooks signature with the shared secret. */
export function startWebhookReceiver(secret: string): Promise<HttpReceiver> {
  const wh = new Webhook(secret);
  return startHttpReceiver((body, headers) => {
    const h = {
      'webhook-id': String(headers['webhook-id'] ?? ''),
      'webhook-timestamp': String(headers['webhook-timestamp'] ?? ''),
      'webhook-signature': String(headers['webhook-signature'] ?? ''),
    };
    const parsed = wh.verify(body, h) as { deliveryId: string };
    if (parsed.deliveryId !== h['webhook-id']) throw new Error('webhook-id is not the body deliveryId');
    return { id: h['webhook-id'], body: parsed };
  });
}

/** A Slack incoming webhook: a JSON body with `text` and, when given, Block Kit `blocks`. */
export function startSlackReceiver(): Promise<HttpReceiver> {
  return startHttpReceiver((text) => {
    const body = JSON.parse(text) as { text?: unknown; blocks?: unknown };
    if (typeof body.text !== 'string' || body.text.length === 0) throw new Error('slack: no text');
    if (body.blocks !== undefined && !Array.isArray(body.blocks))
      throw new Error('slack: blocks is not a list');
    for (const block of (body.blocks ?? []) as { type?: unknown }[]) {
      if (!['section', 'context', 'actions', 'divider', 'header'].includes(String(block.type))) {
        throw new Error(`slack: unknown block type ${String(block.type)}`);
      }
    }
    const id = /dlv_[0-9a-f]{32}/.exec(text)?.[0] ?? '';
    return { id, body };
  });
}

/** PagerDuty's Events API v2 enqueue endpoint: checks the fields PagerDuty requires, answers 202. */
export function startPagerDutyReceiver(routingKey: string): Promise<HttpReceiver> {
  return startHttpReceiver((text) => {
    // biome-ignore lint/suspicious/noExplicitAny: checked field by field below
    const body = JSON.parse(text) as any;
    if (body.routing_key !== routingKey) throw new Error('pagerduty: wrong routing_key');
    if (body.event_action !== 'trigger') throw new Error('pagerduty: event_action is not trigger');
    if (typeof body.dedup_key !== 'string' || body.dedup_key.length > 255)
      throw new Error('pagerduty: dedup_key');
    const p = body.payload;
    if (typeof p?.summary !== 'string' || p.summary.length === 0 || p.summary.length > 1024)
      throw new Error('pagerduty: payload.summary');
    if (typeof p.source !== 'string' || p.source.length === 0) throw new Error('pagerduty: payload.source');
    if (!['critical', 'error', 'warning', 'info'].includes(p.severity))
      throw new Error('pagerduty: payload.severity');
    if (p.timestamp !== undefined && Number.isNaN(Date.parse(p.timestamp)))
      throw new Error('pagerduty: timestamp');
    return { id: body.dedup_key, body };
  }, 202);
}

export interface Mail {
  id: string;
  from: string;
  to: string[];
  raw: string;
  /** The body, quoted-printable decoded. */
  text: string;
  user: string | null;
}

/** RFC 2045 quoted-printable, as nodemailer writes text bodies. */
function decodeQuotedPrintable(body: string): string {
  const bytes = body
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

export interface SmtpReceiver {
  port: number;
  mails: Mail[];
  close(): Promise<void>;
}

/** A real SMTP server (smtp-server) on a free port, requiring the given login, keeping every message. */
export async function startSmtpReceiver(login: { user: string; pass: string }): Promise<SmtpReceiver> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === login.user && auth.password === login.pass) cb(null, { user: auth.username });
      else cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      let raw = '';
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => {
        raw += c;
      });
      stream.on('end', () => {
        const id = /^Message-ID:\s*<([^@>]+)@/im.exec(raw)?.[1] ?? '';
        const split = raw.search(/\r?\n\r?\n/);
        mails.push({
          text: decodeQuotedPrintable(split < 0 ? '' : raw.slice(split).trim()),
          id,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          user: typeof session.user === 'string' ? session.user : null,
        });
        cb();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.server.address() as AddressInfo).port;
  return { port, mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}

export async function waitUntil(
  predicate: () => boolean,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Reads `read()` until `ok` holds, and answers the last value read (which the caller then asserts on). */
export async function until<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}
