import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Caller } from './authz.js';
import { handleIam, IAM_NS } from './iam.js';
import { handlePortal } from './portal.js';
import { checkSigV4, type KnownKey } from './sigv4.js';
import { handleSsoAdmin } from './sso-admin.js';
import { type AwsState, seedState } from './state.js';
import { handleSts, STS_NS } from './sts.js';
import { AwsFault, fault, jsonFault, parseQuery, queryFault, type WireAnswer } from './wire.js';

/** One request as the double saw it, for tests to assert what went over the wire. */
export interface RecordedCall {
  service: 'sts' | 'iam' | 'sso' | 'portal' | 'unknown';
  action: string;
  params: Record<string, unknown>;
  /** `admin`, `session:<session name>`, or `refused` when the signature did not check out. */
  caller: string;
  status: number;
}

export interface AwsDouble {
  url: string;
  host: string;
  port: number;
  state: AwsState;
  calls: RecordedCall[];
  /** The double's clock (real time plus the test's offset), as it judges sessions and provisioning. */
  now(): number;
  /** The next call of `action` fails with this fault instead of running (once per call to failNext). */
  failNext(action: string, f: AwsFault): void;
  /** Runs `fn` just before the next call of `action` is handled: what another actor did meanwhile. */
  beforeNext(action: string, fn: () => void): void;
  /** `{accessKeyId, secretAccessKey}` JSON, as a resource's connection holds it. */
  connection(secretAccessKey?: string): string;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

/**
 * A local AWS for the official SDK (pointed at it through `endpoint`): STS and IAM over the Query protocol, SSO
 * Admin over JSON 1.1, and Identity Center's portal. Every signed request has its SigV4 signature recomputed from
 * the secret the double knows and is refused unless it matches; every action's parameters are checked exactly;
 * sessions, tags, inline policies and assignments are kept, and sessions' calls are authorised by evaluating
 * their role's policies, so whether a deny took effect is observed, not assumed.
 */
export async function startAwsDouble(): Promise<AwsDouble> {
  const state = seedState();
  const calls: RecordedCall[] = [];
  const injected = new Map<string, AwsFault[]>();
  const hooks = new Map<string, (() => void)[]>();
  const runHook = (action: string) => hooks.get(action)?.shift()?.();
  const now = () => Date.now() + state.clockOffsetMs;

  const lookup = (accessKeyId: string): KnownKey | undefined => {
    if (accessKeyId === state.admin.accessKeyId)
      return { accessKeyId, secretAccessKey: state.admin.secretAccessKey };
    const s = state.sessions.get(accessKeyId);
    return s ? { accessKeyId, secretAccessKey: s.secretAccessKey, sessionToken: s.sessionToken } : undefined;
  };

  async function handle(req: IncomingMessage, body: Buffer): Promise<WireAnswer> {
    const url = new URL(req.url ?? '/', 'http://double');
    const headers = flatHeaders(req);
    if (url.pathname === '/federation/credentials') {
      const answer = handlePortal(state, url.searchParams, headers, now());
      calls.push({
        service: 'portal',
        action: 'GetRoleCredentials',
        params: Object.fromEntries(url.searchParams),
        caller: 'user',
        status: answer.status,
      });
      return answer;
    }
    const target = headers['x-amz-target'];
    const isJson = target !== undefined;
    const record = (service: RecordedCall['service'], action: string, params: Record<string, unknown>) => {
      const call: RecordedCall = { service, action, params, caller: 'refused', status: 0 };
      calls.push(call);
      return call;
    };
    const check = await checkSigV4(
      {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        body,
      },
      lookup,
    );
    if (!check.ok) {
      const call = record('unknown', target ?? String(parseQuery(body.toString()).get('Action')), {});
      call.status = 403;
      if (isJson) {
        const code =
          check.code === 'SignatureDoesNotMatch'
            ? 'InvalidSignatureException'
            : 'UnrecognizedClientException';
        return jsonFault(new AwsFault(403, code, check.message));
      }
      return queryFault(new AwsFault(403, check.code, check.message), STS_NS);
    }
    const session = state.sessions.get(check.key.accessKeyId);
    const caller: Caller = session ? { kind: 'session', session } : { kind: 'admin' };
    const callerName = session ? `session:${session.sessionName}` : 'admin';
    const t = now();

    if (check.service === 'sso') {
      const operation = (target ?? '').replace(/^SWBExternalService\./, '');
      const params = JSON.parse(body.toString() || '{}') as Record<string, unknown>;
      const call = record('sso', operation, params);
      call.caller = callerName;
      try {
        if (!target?.startsWith('SWBExternalService.'))
          throw fault(400, 'UnknownOperationException', 'no target');
        if (session && session.expiresAt <= t)
          throw fault(403, 'ExpiredTokenException', 'The security token included in the request is expired');
        runHook(operation);
        const injectedFault = injected.get(operation)?.shift();
        if (injectedFault) throw injectedFault;
        const answer = handleSsoAdmin(state, caller, operation, params, t);
        call.status = answer.status;
        return answer;
      } catch (e) {
        if (!(e instanceof AwsFault)) throw e;
        call.status = e.status;
        return jsonFault(e);
      }
    }

    const params = parseQuery(body.toString());
    const action = params.get('Action') ?? '';
    const service = check.service === 'sts' ? 'sts' : check.service === 'iam' ? 'iam' : 'unknown';
    const call = record(service, action, Object.fromEntries(params));
    call.caller = callerName;
    const ns = service === 'iam' ? IAM_NS : STS_NS;
    try {
      if (session && session.expiresAt <= t)
        throw fault(403, 'ExpiredToken', 'The security token included in the request is expired');
      runHook(action);
      const injectedFault = injected.get(action)?.shift();
      if (injectedFault) throw injectedFault;
      if (params.get('Version') !== (service === 'iam' ? '2010-05-08' : '2011-06-15'))
        throw fault(400, 'InvalidParameterValue', 'unexpected API version');
      const answer =
        service === 'sts'
          ? handleSts(state, caller, action, params, t)
          : service === 'iam'
            ? handleIam(state, caller, action, params, t)
            : (() => {
                throw fault(400, 'InvalidAction', `no service ${check.service}`);
              })();
      call.status = answer.status;
      return answer;
    } catch (e) {
      if (!(e instanceof AwsFault)) throw e;
      call.status = e.status;
      return queryFault(e, ns);
    }
  }

  const server: Server = createServer((req, res) => {
    readBody(req)
      .then((body) => handle(req, body))
      .then(
        (answer) => {
          res.writeHead(answer.status, answer.headers);
          res.end(answer.body);
        },
        (err: unknown) => {
          // A bug in the double, or a document it cannot judge: loud, never a quiet pass.
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`AWS double failure: ${(err as Error).stack ?? String(err)}`);
        },
      );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('AWS double has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    host: '127.0.0.1',
    port: address.port,
    state,
    calls,
    now,
    failNext(action, f) {
      injected.set(action, [...(injected.get(action) ?? []), f]);
    },
    beforeNext(action, fn) {
      hooks.set(action, [...(hooks.get(action) ?? []), fn]);
    },
    connection: (secretAccessKey = state.admin.secretAccessKey) =>
      JSON.stringify({ accessKeyId: state.admin.accessKeyId, secretAccessKey }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
