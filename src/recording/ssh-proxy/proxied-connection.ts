import { randomBytes } from 'node:crypto';
import type ssh2 from 'ssh2';
import { recordSessionEnd, recordSessionStart } from '../session-start.js';
import { handleForwarding } from './forwarding.js';
import { type HostLeg, openHostLeg } from './host-leg.js';
import { checkLogin, LoginRefused, type SessionGrant } from './login-check.js';
import type { OpenChannel, ProxiedSession, ProxyDeps } from './proxy-context.js';
import { handleSessionChannel } from './terminal-channel.js';
import { checkTokenLogin } from './token-login.js';

const CLOSE_GRACE_MS = 1_000;
const FINISH_LIMIT_MS = 10_000;
const MAX_AUTH_TRIES = 6;
/** Certificates first; then the grant's proxy token (token-login.ts). */
const METHODS: ssh2.AuthenticationType[] = ['publickey', 'password', 'keyboard-interactive'];

/**
 * One client connection: logins with a Stint certificate (checkLogin) or a grant's proxy token (checkTokenLogin), decided before any byte
 * reaches a host; then the session is recorded in the store (with its review draw) and the host leg opened; then
 * channels are bridged. Errors of this connection (a malformed SSH packet, a dropped socket) end this session only.
 */
export function handleConnection(
  deps: ProxyDeps,
  client: ssh2.Connection,
  info: ssh2.ClientInfo,
  sessions: Set<ProxiedSession>,
): void {
  let grant: SessionGrant | null = null;
  let session: ProxiedSession | null = null;
  let audited = false;

  let failures = 0;
  /** Settles one login attempt: accepted once it proved a live grant, else refused, logged, audited once. */
  const decide = (
    ctx: ssh2.AuthContext,
    check: Promise<SessionGrant>,
    how: { login: 'certificate' | 'token'; final: boolean; signed?: boolean },
  ) =>
    check.then(
      (checked) => {
        if (how.final) grant = checked;
        ctx.accept();
      },
      (e: unknown) => {
        const reason = e instanceof LoginRefused ? e.message : `login check failed: ${(e as Error).message}`;
        deps.logger.warn(
          { client: info.ip, user: ctx.username, login: how.login, reason },
          'ssh proxy: login refused',
        );
        // Audited once per connection (a client asks about its certificate before it signs, and may retry):
        // how it logged in, and whether it also proved it holds the key, is said. Never what was typed.
        if (e instanceof LoginRefused && e.requestId && !audited) {
          audited = true;
          deps.activity.push({
            at: deps.clock(),
            actor: 'stint',
            action: 'session.refused',
            requestId: e.requestId,
            details: {
              account: ctx.username,
              client: info.ip,
              reason,
              login: how.login,
              ...(how.signed !== undefined ? { signed: how.signed } : {}),
            },
          });
        }
        // sshd's MaxAuthTries: a client guessing is cut off (the "would you accept" query is no try).
        if (how.final && ++failures >= MAX_AUTH_TRIES) {
          ctx.reject();
          client.end();
          return;
        }
        ctx.reject(METHODS);
      },
    );
  const byToken = (ctx: ssh2.AuthContext, token: string) =>
    decide(ctx, checkTokenLogin(deps, { username: ctx.username, token, clientAddress: info.ip }), {
      login: 'token',
      final: true,
    });

  client.on('authentication', (ctx) => {
    if (ctx.method === 'publickey') {
      const signed = ctx.signature && ctx.blob ? { data: ctx.blob, signature: ctx.signature } : undefined;
      const check = checkLogin(deps, {
        username: ctx.username,
        algorithm: ctx.key.algo,
        blob: ctx.key.data,
        clientAddress: info.ip,
        ...(signed ? { signed } : {}),
      });
      return decide(ctx, check, { login: 'certificate', final: signed !== undefined, signed: !!signed });
    }
    // The grant's proxy token, for a user without its certificate: as a password, or answering one prompt.
    if (ctx.method === 'password') return byToken(ctx, ctx.password);
    if (ctx.method === 'keyboard-interactive') {
      return ctx.prompt(
        [{ prompt: 'Stint SSH proxy token: ', echo: false }],
        'Stint',
        'The proxy token your take of the grant showed (stint-ssh.…)',
        (answers) => byToken(ctx, answers[0] ?? ''),
      );
    }
    ctx.reject(METHODS);
  });

  client.on('ready', () => {
    if (!grant) return client.end();
    // Built now, its listeners with it: a client opens its first channel right after the login, and ssh2 refuses
    // what nobody listens for yet. The channels wait on the session's host leg, opened once the session is
    // recorded in the store.
    session = begin(grant);
  });

  client.on('error', (e) => {
    deps.logger.warn(
      { client: info.ip, err: e.message, session: session?.id },
      'ssh proxy: connection error',
    );
  });
  client.on('close', () => {
    void session?.end('client disconnected');
  });

  /** The session, its start and its review draw: one transaction, so no session runs unlisted or undrawn. */
  function record(id: string, g: SessionGrant, now: Date): Promise<void> {
    return recordSessionStart(deps, {
      id,
      request: g.request,
      resource: g.resource,
      protocol: 'ssh',
      account: g.account,
      client: info.ip,
      server: deps.server,
      now,
      details: {
        login: g.login.method,
        ...(g.login.method === 'certificate'
          ? {
              certificateSerial: g.login.certificate.serial.toString(),
              certificateKey: g.login.certificate.keyFingerprint,
            }
          : {}),
      },
    });
  }

  function begin(g: SessionGrant): ProxiedSession {
    const id = `ses_${randomBytes(12).toString('base64url')}`;
    const now = deps.clock();
    const { request, resource } = g;
    const recorded = record(id, g, now);
    const abort = new AbortController();
    let leg: HostLeg | null = null;
    let ended = false;
    let channelNumber = 0;
    const channels = new Set<OpenChannel>();
    const s: ProxiedSession = {
      id,
      deps,
      grant: g,
      client,
      host: recorded
        .then(() => openHostLeg(g, id, deps.providers, abort.signal, now))
        .then((l) => {
          leg = l;
          if (ended) l.close();
          else s.event('session.host_connected', { certificateSerial: l.serial });
          l.client.once('close', () => void s.end('the host closed the connection'));
          return l;
        }),
      get ended() {
        return ended;
      },
      channels,
      nextChannel: () => ++channelNumber,
      event(action, details) {
        deps.activity.push({
          at: deps.clock(),
          actor: action.startsWith('recording.') ? 'stint' : request.requester,
          action,
          requestId: request.id,
          target: { resource: resource.id },
          details: { sessionId: id, ...details },
        });
      },
      async end(reason) {
        if (ended) return;
        ended = true;
        abort.abort();
        deps.watch.remove(id);
        sessions.delete(s);
        const closing = [...channels];
        for (const c of closing) c.close(reason);
        // The channels close first, so the client shows why (a disconnect right behind the message can beat it
        // to the user's terminal); a client that does not answer is cut after a second.
        const finished = Promise.all(closing.map((c) => c.finished));
        await Promise.race([finished, new Promise((r) => setTimeout(r, CLOSE_GRACE_MS))]);
        client.end();
        leg?.close();
        // Recordings seal as their channels close; one that never does must not keep the end out of the store.
        await Promise.race([finished, new Promise((r) => setTimeout(r, FINISH_LIMIT_MS))]);
        // A session is ended in the store only once it is in it (a store that refused its start has none).
        if (!(await recorded.then(() => true).catch(() => false))) return;
        const at = deps.clock();
        await deps.activity.flush();
        await recordSessionEnd(deps, {
          id,
          requestId: request.id,
          resource: resource.id,
          reason,
          at,
          startedAt: now,
        }).catch((e: unknown) =>
          deps.logger.error({ err: (e as Error).message, session: id }, 'session end not recorded'),
        );
      },
    };
    sessions.add(s);
    deps.watch.add({
      id,
      requestId: request.id,
      expiresAt: g.expiresAt,
      end: (reason) => void s.end(reason),
    });
    let inStore = true;
    recorded.catch((e: unknown) => {
      inStore = false;
      deps.logger.error({ session: id, err: (e as Error).message }, 'ssh proxy: session not recorded; ended');
    });
    s.host.catch((e: unknown) => {
      if (inStore)
        deps.logger.warn({ session: id, err: (e as Error).message }, 'ssh proxy: host unreachable');
      void s.end(
        inStore
          ? `the host could not be reached: ${(e as Error).message}`
          : 'the session could not be recorded in the store',
      );
    });
    client.on('session', (accept) => handleSessionChannel(s, accept()));
    handleForwarding(s);
    return s;
  }
}
