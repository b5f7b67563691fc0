import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { conditionHolds, parseCondition } from './condition.js';
import { checkSelfSignedJwt } from './jwt.js';
import { type Binding, type GcpState, newEtag, seedGcpState, TOKEN_CREATOR } from './state.js';

export interface RecordedGcpCall {
  method: string;
  path: string;
  body: unknown;
  /** `admin` (a verified self-signed JWT), a token's member, or `refused`. */
  caller: string;
  status: number;
}

export interface GcpDouble {
  url: string;
  host: string;
  port: number;
  state: GcpState;
  calls: RecordedGcpCall[];
  now(): number;
  /** The next setIamPolicy changes the policy first (another writer won the race), so the etag sent is stale. */
  raceNextSet(): void;
  close(): Promise<void>;
}

class GoogleFault extends Error {
  constructor(
    readonly code: number,
    readonly status: string,
    message: string,
  ) {
    super(message);
  }
}
const fault = (code: number, status: string, message: string) => new GoogleFault(code, status, message);

const ROLE = /^roles\/[A-Za-z0-9_.]+$/;
const MEMBER = /^(user|serviceAccount|group):[^\s@]+@[^\s@]+$/;
const SA_PATH =
  /^\/v1\/projects\/([^/]+)\/serviceAccounts\/([^/:]+):(getIamPolicy|setIamPolicy|generateAccessToken)$/;
const LIST_PATH = /^\/v1\/projects\/([^/]+)\/serviceAccounts$/;

function exactKeys(
  value: unknown,
  what: string,
  required: string[],
  optional: string[] = [],
): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw fault(400, 'INVALID_ARGUMENT', `${what} must be an object`);
  const v = value as Record<string, unknown>;
  for (const k of Object.keys(v))
    if (!required.includes(k) && !optional.includes(k))
      throw fault(400, 'INVALID_ARGUMENT', `${what} has no field ${k}`);
  for (const k of required)
    if (v[k] === undefined) throw fault(400, 'INVALID_ARGUMENT', `${what}.${k} is required`);
  return v;
}

function checkBindings(raw: unknown, version: number): Binding[] {
  if (!Array.isArray(raw)) throw fault(400, 'INVALID_ARGUMENT', 'bindings must be a list');
  const seen = new Set<string>();
  return raw.map((b, i) => {
    const binding = exactKeys(b, `bindings[${i}]`, ['role', 'members'], ['condition']);
    if (typeof binding.role !== 'string' || !ROLE.test(binding.role))
      throw fault(400, 'INVALID_ARGUMENT', `bindings[${i}].role is not a role`);
    const members = binding.members;
    if (
      !Array.isArray(members) ||
      members.length === 0 ||
      !members.every((m) => typeof m === 'string' && MEMBER.test(m))
    )
      throw fault(400, 'INVALID_ARGUMENT', `bindings[${i}].members are not members`);
    let condition: Binding['condition'];
    if (binding.condition !== undefined) {
      if (version !== 3)
        throw fault(400, 'INVALID_ARGUMENT', 'conditional role bindings need policy version 3');
      const c = exactKeys(
        binding.condition,
        `bindings[${i}].condition`,
        ['title', 'expression'],
        ['description'],
      );
      if (typeof c.title !== 'string' || c.title.length === 0 || c.title.length > 100)
        throw fault(400, 'INVALID_ARGUMENT', 'condition title must be 1 to 100 characters');
      if (c.description !== undefined && (typeof c.description !== 'string' || c.description.length > 256))
        throw fault(400, 'INVALID_ARGUMENT', 'condition description must be at most 256 characters');
      if (typeof c.expression !== 'string' || !parseCondition(c.expression))
        throw fault(
          400,
          'INVALID_ARGUMENT',
          'the double evaluates only request.time < timestamp("…") conditions',
        );
      condition = {
        title: c.title,
        expression: c.expression,
        ...(c.description ? { description: c.description } : {}),
      };
    }
    const key = JSON.stringify([binding.role, condition ?? null]);
    if (seen.has(key)) throw fault(400, 'INVALID_ARGUMENT', 'two bindings share a role and condition');
    seen.add(key);
    return { role: binding.role, members: members as string[], ...(condition ? { condition } : {}) };
  });
}

/**
 * A local Google Cloud IAM for google-auth-library's client: iam.googleapis.com's service account listing and
 * getIamPolicy/setIamPolicy (policy version 3, etag concurrency enforced: a write without the current etag is
 * refused), and iamcredentials' generateAccessToken, which it authorises by evaluating the conditional bindings.
 * Stint's calls must carry a self-signed JWT the double verifies against the service account key's public half;
 * users and impersonated accounts carry tokens it minted.
 */
export async function startGcpDouble(): Promise<GcpDouble> {
  const state = seedGcpState();
  const calls: RecordedGcpCall[] = [];
  const now = () => Date.now() + state.clockOffsetMs;
  let race = false;
  const keys = new Map([[state.admin.keyId, { email: state.admin.email, publicKey: state.admin.publicKey }]]);

  function callerOf(req: IncomingMessage): string {
    const auth = req.headers.authorization ?? '';
    const m = /^Bearer (\S+)$/.exec(auth);
    if (!m?.[1])
      throw fault(401, 'UNAUTHENTICATED', 'Request is missing required authentication credential.');
    const token = m[1];
    if (token.split('.').length === 3) {
      const check = checkSelfSignedJwt(token, keys, Date.now());
      if (!check.ok)
        throw fault(401, 'UNAUTHENTICATED', `Request had invalid authentication credentials: ${check.why}`);
      return 'admin';
    }
    for (const [member, t] of state.userTokens) if (t === token) return member;
    const minted = state.tokens.get(token);
    if (minted && minted.expiresAt > now()) return minted.member;
    throw fault(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
  }

  function handle(
    req: IncomingMessage,
    path: string,
    query: URLSearchParams,
    body: unknown,
    caller: string,
  ): unknown {
    const list = LIST_PATH.exec(path);
    if (list) {
      if (list[1] !== state.project) throw fault(404, 'NOT_FOUND', `Project ${list[1]} not found`);
      const sa = caller.startsWith('serviceAccount:')
        ? state.serviceAccounts.get(caller.slice(15))
        : undefined;
      if (req.method === 'GET') {
        if (caller !== 'admin' && !sa?.may.has('list'))
          throw fault(403, 'PERMISSION_DENIED', "Permission 'iam.serviceAccounts.list' denied on resource");
        const all = [...state.serviceAccounts.values()];
        const start = Number(query.get('pageToken') ?? '0');
        const size = Math.min(Number(query.get('pageSize') ?? '100'), 100);
        const page = all.slice(start, start + size);
        const next = start + page.length < all.length ? String(start + page.length) : undefined;
        return {
          accounts: page.map((a) => ({
            name: `projects/${state.project}/serviceAccounts/${a.email}`,
            projectId: state.project,
            uniqueId: a.uniqueId,
            email: a.email,
          })),
          ...(next ? { nextPageToken: next } : {}),
        };
      }
      if (req.method === 'POST')
        throw fault(403, 'PERMISSION_DENIED', "Permission 'iam.serviceAccounts.create' denied on resource");
    }
    const m = SA_PATH.exec(path);
    if (!m || req.method !== 'POST') throw fault(404, 'NOT_FOUND', `no route ${req.method} ${path}`);
    const [, project, email = '', verb] = m;
    if (project !== '-' && project !== state.project)
      throw fault(404, 'NOT_FOUND', `Project ${project} not found`);
    const sa = state.serviceAccounts.get(email);
    if (verb === 'generateAccessToken') {
      const b = exactKeys(body, 'request', ['scope'], ['lifetime', 'delegates']);
      if (!sa) throw fault(404, 'NOT_FOUND', `Service account ${email} does not exist.`);
      const allowed = sa.policy.bindings.some(
        (x) =>
          x.role === TOKEN_CREATOR &&
          x.members.includes(caller) &&
          (x.condition === undefined || conditionHolds(x.condition.expression, now())),
      );
      if (!allowed)
        throw fault(
          403,
          'PERMISSION_DENIED',
          "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).",
        );
      const lifetime = Number(/^(\d+)s$/.exec(String(b.lifetime ?? '3600s'))?.[1] ?? 'NaN');
      if (!(lifetime > 0 && lifetime <= 3600))
        throw fault(400, 'INVALID_ARGUMENT', 'lifetime must be at most 3600s');
      const token = `ya29.sa-${randomBytes(16).toString('hex')}`;
      const expiresAt = now() + lifetime * 1000;
      state.tokens.set(token, { member: `serviceAccount:${email}`, expiresAt });
      return { accessToken: token, expireTime: new Date(expiresAt).toISOString() };
    }
    if (caller !== 'admin')
      throw fault(
        403,
        'PERMISSION_DENIED',
        `Permission 'iam.serviceAccounts.${verb}' denied on resource (or it may not exist).`,
      );
    if (!sa) throw fault(404, 'NOT_FOUND', `Service account ${email} does not exist.`);
    const hasConditions = () => sa.policy.bindings.some((x) => x.condition);
    if (verb === 'getIamPolicy') {
      const b = exactKeys(body ?? {}, 'request', [], ['options']);
      const wanted =
        b.options === undefined
          ? 1
          : Number(
              exactKeys(b.options, 'options', [], ['requestedPolicyVersion']).requestedPolicyVersion ?? 1,
            );
      if (hasConditions() && wanted !== 3)
        throw fault(400, 'INVALID_ARGUMENT', 'the policy has conditional bindings: request policy version 3');
      return {
        version: sa.policy.version,
        etag: sa.policy.etag,
        ...(sa.policy.bindings.length > 0 ? { bindings: sa.policy.bindings } : {}),
      };
    }
    const b = exactKeys(body, 'request', ['policy'], ['updateMask']);
    const policy = exactKeys(b.policy, 'policy', ['version', 'etag'], ['bindings']);
    if (race) {
      race = false;
      sa.policy.etag = newEtag();
    }
    if (policy.etag !== sa.policy.etag)
      throw fault(
        409,
        'ABORTED',
        'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.',
      );
    const version = Number(policy.version);
    const bindings = checkBindings(policy.bindings ?? [], version);
    sa.policy = { version: bindings.some((x) => x.condition) ? 3 : version, etag: newEtag(), bindings };
    return { version: sa.policy.version, etag: sa.policy.etag, ...(bindings.length > 0 ? { bindings } : {}) };
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://double');
      const text = Buffer.concat(chunks).toString();
      const call: RecordedGcpCall = {
        method: req.method ?? '',
        path: url.pathname,
        body: undefined,
        caller: 'refused',
        status: 0,
      };
      calls.push(call);
      let status = 200;
      let answer: unknown;
      try {
        call.body = text ? JSON.parse(text) : undefined;
        call.caller = callerOf(req);
        answer = handle(req, url.pathname, url.searchParams, call.body, call.caller);
      } catch (e) {
        if (e instanceof GoogleFault) {
          status = e.code;
          answer = { error: { code: e.code, message: e.message, status: e.status } };
        } else if (e instanceof SyntaxError) {
          status = 400;
          answer = {
            error: { code: 400, message: 'Invalid JSON payload received.', status: 'INVALID_ARGUMENT' },
          };
        } else {
          status = 500;
          answer = {
            error: { code: 500, message: `GCP double failure: ${(e as Error).stack}`, status: 'INTERNAL' },
          };
        }
      }
      call.status = status;
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('GCP double has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    host: '127.0.0.1',
    port: address.port,
    state,
    calls,
    now,
    raceNextSet() {
      race = true;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
