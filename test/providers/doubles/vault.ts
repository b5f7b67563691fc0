import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { allowed, type Capability, DEFAULT_POLICY, type Policy, parsePolicy } from './vault-acl.js';

/**
 * A local HTTP double of Vault's API, for the paths Stint calls: token roles and accessors, leases, a dynamic
 * secrets engine, KV version 2, AppRole login and sys/health. It is strict where Vault is lenient, so a mistake of
 * Stint's shows: every request is checked for its exact method, path, headers (`X-Vault-Request`, the token,
 * `X-Vault-Namespace`, `Content-Type`) and body fields; anything else is answered 400/405 and recorded as a
 * violation, which the tests assert stays empty. Tokens carry policies the double enforces (vault-acl.ts).
 *
 * Semantics kept from Vault (cited where it matters): a lease is a child of the token that read it, and revoking
 * or expiring the token expires its leases at once (ExpirationManager.RevokeByToken marks them expired and hands
 * them to the expiry timer, so they end moments later: the double ends them at that instant); a lease's TTL is not
 * cut by its token's; `sys/leases/revoke` of an unknown lease answers 204 (revokeCommon: "nothing to revoke"),
 * `sys/leases/lookup` of one 400 `invalid lease`, an unknown accessor 400 `invalid accessor`; an empty LIST 404.
 *
 * The credentials an engine role hands out are accepted by `POST /_double/use` (outside /v1: the "database" the
 * engine manages) while their lease lives, for the actions the role allows.
 */

export interface EngineRole {
  /** Lease TTL without a `ttl` parameter, seconds. */
  defaultTtl: number;
  maxTtl: number;
  renewable: boolean;
  /** Takes `ttl` in a POST body (aws/sts does; database/creds does not). */
  acceptsTtl?: boolean;
  /** What its credentials may do at /_double/use. */
  actions: string[];
  /** False: a static secret, answered without a lease. */
  leased?: boolean;
}

export interface VaultDoubleOptions {
  /** Stint's token, holding these policies (besides `default`). */
  adminToken: string;
  adminPolicies: string[];
  /** Policy name → HCL. */
  policies: Record<string, string>;
  /** Credential path (`database/creds/readonly`) → role. */
  engines: Record<string, EngineRole>;
  /** Token roles: name → allowed policies; all orphan and renewable, as docs/vault-target.md creates `stint`. */
  tokenRoles: Record<string, { allowedPolicies: string[]; explicitMaxTtl?: number }>;
  approle?: { mount: string; roleId: string; secretId: string; policies: string[]; ttl: number };
  /** Every /v1 call must carry exactly this X-Vault-Namespace. */
  namespace?: string;
  /** How `sys/leases/revoke` answers an unknown lease: Vault's 204, or what OpenBao/proxies may say. */
  missingLease?: 'vault' | 'not-found-400' | 'not-found-404';
  /** KV version 2 mounts. */
  kvMounts?: string[];
  /** Added before each answer, so a cancellation can land between calls. */
  latencyMs?: number;
}

interface Token {
  value: string;
  accessor: string;
  policies: string[];
  meta: Record<string, string>;
  displayName: string;
  createdAt: number;
  expireAt: number;
  /** Absolute cap from explicit_max_ttl / the system max. */
  maxAt: number;
  renewable: boolean;
  revoked: boolean;
}

interface Lease {
  id: string;
  path: string;
  accessor: string | null;
  issuedAt: number;
  expireAt: number;
  maxAt: number;
  renewable: boolean;
  revoked: boolean;
  username: string;
  password: string;
  actions: string[];
}

interface KvEntry {
  version: number;
  data: Record<string, unknown>;
  created: string;
}

export interface RecordedCall {
  method: string;
  path: string;
  query: Record<string, string>;
  namespace: string | undefined;
  body: unknown;
  /** The status answered. */
  status: number;
}

const SYSTEM_MAX_TTL = 32 * 24 * 3600;

class Reject extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
    /** A request Stint should never send: recorded as a violation. */
    readonly violation = false,
  ) {
    super(errors.join('; '));
  }
}

type Spec = Record<string, 'string' | 'number' | 'boolean' | 'object' | 'string[]' | 'duration'>;

/** Checks a body against exactly these fields; anything unknown or of the wrong type is Stint's mistake. */
function checkBody(body: unknown, spec: Spec, required: string[] = []): Record<string, unknown> {
  if (body === undefined) {
    if (required.length > 0) throw new Reject(400, [`missing body (needs ${required.join(', ')})`], true);
    return {};
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new Reject(400, ['body must be an object'], true);
  const b = body as Record<string, unknown>;
  for (const [k, v] of Object.entries(b)) {
    const type = spec[k];
    if (type === undefined) throw new Reject(400, [`unexpected field ${k}`], true);
    const ok =
      type === 'string[]'
        ? Array.isArray(v) && v.every((x) => typeof x === 'string')
        : type === 'duration'
          ? (typeof v === 'string' && /^\d+s$/.test(v)) ||
            (typeof v === 'number' && Number.isInteger(v) && v >= 0)
          : type === 'object'
            ? v !== null && typeof v === 'object' && !Array.isArray(v)
            : typeof v === type;
    if (!ok) throw new Reject(400, [`field ${k} must be ${type}`], true);
  }
  for (const k of required) if (!(k in b)) throw new Reject(400, [`missing field ${k}`], true);
  return b;
}

const seconds = (v: unknown): number => (typeof v === 'number' ? v : Number.parseInt(String(v), 10));
const iso = (ms: number) => new Date(ms).toISOString();

export interface VaultDouble {
  url: string;
  port: number;
  violations(): string[];
  calls(): RecordedCall[];
  clearCalls(): void;
  /** Fails the next call whose path matches with this status and errors (once). */
  failNext(path: RegExp, status: number, errors: string[]): void;
  /** Root's view: a live lease read by a token carrying `stint_principal`, or a marker at `stint/<principal>`. */
  principalExists(principal: string, markerMount?: string, markerPrefix?: string): boolean;
  lease(id: string): { live: boolean; ttl: number; renewable: boolean; accessor: string | null } | undefined;
  liveLeases(): string[];
  token(
    accessor: string,
  ): { live: boolean; ttl: number; meta: Record<string, string>; policies: string[] } | undefined;
  /** Writes a KV v2 secret as root (a foreign marker, someone else's data). */
  kvPut(mount: string, path: string, data: Record<string, unknown>): void;
  kvGet(mount: string, path: string): Record<string, unknown> | undefined;
  /** Revokes a lease behind Stint's back (an operator's `vault lease revoke`). */
  revokeLease(id: string): void;
  /** Shortens a token's life, as time passing would. */
  expireToken(accessor: string): void;
  setMissingLease(mode: NonNullable<VaultDoubleOptions['missingLease']>): void;
  close(): Promise<void>;
}

export async function startVaultDouble(options: VaultDoubleOptions): Promise<VaultDouble> {
  const policies = new Map<string, Policy>(
    Object.entries(options.policies).map(([n, h]) => [n, parsePolicy(h)]),
  );
  policies.set('default', DEFAULT_POLICY);
  const tokens = new Map<string, Token>();
  const accessors = new Map<string, string>();
  const leases = new Map<string, Lease>();
  const kv = new Map<string, Map<string, KvEntry>>(
    (options.kvMounts ?? ['secret']).map((m) => [m, new Map()]),
  );
  const violations: string[] = [];
  const calls: RecordedCall[] = [];
  const failures: { path: RegExp; status: number; errors: string[] }[] = [];
  let missingLease = options.missingLease ?? 'vault';

  function mint(fields: Omit<Token, 'value' | 'accessor' | 'revoked'>, value?: string): Token {
    const t: Token = {
      ...fields,
      value: value ?? `hvs.${randomBytes(18).toString('base64url')}`,
      accessor: randomBytes(12).toString('base64url'),
      revoked: false,
    };
    tokens.set(t.value, t);
    accessors.set(t.accessor, t.value);
    return t;
  }
  // Stint's own token: long-lived, as an operator hands it over.
  mint(
    {
      policies: ['default', ...options.adminPolicies],
      meta: {},
      displayName: 'stint-admin',
      createdAt: Date.now(),
      expireAt: Number.POSITIVE_INFINITY,
      maxAt: Number.POSITIVE_INFINITY,
      renewable: false,
    },
    options.adminToken,
  );

  const tokenLive = (t: Token) => !t.revoked && Date.now() < t.expireAt;
  const leaseLive = (l: Lease) => {
    if (l.revoked || Date.now() >= l.expireAt) return false;
    // A lease ends with the token that read it (expiry is a revocation too).
    const owner = l.accessor === null ? undefined : tokens.get(accessors.get(l.accessor) ?? '');
    return owner === undefined || tokenLive(owner);
  };
  function revokeToken(t: Token) {
    t.revoked = true;
    for (const l of leases.values())
      if (l.accessor === t.accessor && !l.revoked) l.expireAt = Math.min(l.expireAt, Date.now());
  }

  function authenticate(req: IncomingMessage): Token {
    const value = req.headers['x-vault-token'];
    const t = typeof value === 'string' ? tokens.get(value) : undefined;
    if (!t || !tokenLive(t)) throw new Reject(403, ['permission denied', 'invalid token']);
    return t;
  }
  function authorize(t: Token, path: string, capability: Capability) {
    const held = t.policies.map((p) => policies.get(p) ?? []);
    if (!allowed(held, path, capability)) throw new Reject(403, ['permission denied']);
  }

  function leaseLookup(id: string): Lease {
    const l = leases.get(id);
    if (!l || !leaseLive(l)) throw new Reject(400, ['invalid lease']);
    return l;
  }
  function revokeLease(id: string) {
    const l = leases.get(id);
    if (!l || !leaseLive(l)) {
      if (missingLease === 'not-found-400') throw new Reject(400, ['lease not found']);
      if (missingLease === 'not-found-404') throw new Reject(404, []);
      return;
    }
    l.revoked = true;
  }

  function kvMount(path: string): { mount: string; kind: 'data' | 'metadata'; key: string } | undefined {
    for (const mount of kv.keys()) {
      for (const kind of ['data', 'metadata'] as const) {
        const prefix = `${mount}/${kind}/`;
        if (path.startsWith(prefix)) return { mount, kind, key: path.slice(prefix.length) };
      }
    }
    return undefined;
  }

  async function route(
    req: IncomingMessage,
    path: string,
    query: URLSearchParams,
    body: unknown,
  ): Promise<unknown> {
    const method = req.method ?? '';
    const list = query.get('list') === 'true';
    const onlyQuery = (...allowedKeys: string[]) => {
      for (const k of query.keys())
        if (!allowedKeys.includes(k)) throw new Reject(400, [`unexpected query ${k}`], true);
    };
    if (path !== 'sys/health') onlyQuery(...(list ? ['list'] : []));

    if (path === 'sys/health' && method === 'GET') {
      onlyQuery('standbyok', 'perfstandbyok');
      return {
        initialized: true,
        sealed: false,
        standby: false,
        version: '1.17.0+double',
        cluster_name: 'double',
      };
    }

    const login = options.approle && path === `auth/${options.approle.mount}/login`;
    if (login && options.approle) {
      if (method !== 'POST') throw new Reject(405, ['unsupported operation'], true);
      if (req.headers['x-vault-token'] !== undefined)
        throw new Reject(400, ['a login carries no token'], true);
      const b = checkBody(body, { role_id: 'string', secret_id: 'string' }, ['role_id', 'secret_id']);
      if (b.role_id !== options.approle.roleId || b.secret_id !== options.approle.secretId) {
        throw new Reject(400, ['invalid role or secret ID']);
      }
      const t = mint({
        policies: ['default', ...options.approle.policies],
        meta: { role_name: 'stint' },
        displayName: 'approle',
        createdAt: Date.now(),
        expireAt: Date.now() + options.approle.ttl * 1000,
        maxAt: Date.now() + options.approle.ttl * 1000,
        renewable: true,
      });
      return {
        auth: {
          client_token: t.value,
          accessor: t.accessor,
          policies: t.policies,
          lease_duration: options.approle.ttl,
          renewable: true,
        },
      };
    }

    const caller = authenticate(req);
    const need = (capability: Capability) => authorize(caller, path, capability);

    if (path === 'auth/token/lookup-self' && method === 'GET') {
      need('read');
      return {
        data: { accessor: caller.accessor, policies: caller.policies, meta: caller.meta, ttl: ttlOf(caller) },
      };
    }

    const roleMatch = /^auth\/token\/create\/([^/]+)$/.exec(path);
    if (roleMatch && method === 'POST') {
      need('update');
      const role = options.tokenRoles[roleMatch[1] as string];
      if (!role) throw new Reject(400, ['unknown role']);
      const b = checkBody(body, {
        policies: 'string[]',
        meta: 'object',
        display_name: 'string',
        ttl: 'duration',
        explicit_max_ttl: 'duration',
        renewable: 'boolean',
      });
      const asked = (b.policies as string[] | undefined) ?? role.allowedPolicies;
      const outside = asked.filter((p) => !role.allowedPolicies.includes(p));
      if (outside.length > 0)
        throw new Reject(400, [
          `token policies (${outside.join(', ')}) must be subset of the role's allowed policies`,
        ]);
      const meta = (b.meta ?? {}) as Record<string, unknown>;
      if (!Object.values(meta).every((v) => typeof v === 'string'))
        throw new Reject(400, ['meta values must be strings'], true);
      const created = Date.now();
      const explicit =
        b.explicit_max_ttl === undefined
          ? SYSTEM_MAX_TTL
          : Math.min(seconds(b.explicit_max_ttl), SYSTEM_MAX_TTL);
      const cap = role.explicitMaxTtl ? Math.min(explicit, role.explicitMaxTtl) : explicit;
      const ttl = Math.min(b.ttl === undefined ? cap : seconds(b.ttl), cap);
      const t = mint({
        policies: ['default', ...asked],
        meta: meta as Record<string, string>,
        displayName: `token-${String(b.display_name ?? '')}`,
        createdAt: created,
        expireAt: created + ttl * 1000,
        maxAt: created + cap * 1000,
        renewable: b.renewable !== false,
      });
      return {
        auth: {
          client_token: t.value,
          accessor: t.accessor,
          policies: t.policies,
          token_policies: t.policies,
          metadata: t.meta,
          lease_duration: ttl,
          renewable: t.renewable,
          orphan: true,
        },
      };
    }

    if (path === 'auth/token/renew-self' && method === 'POST') {
      need('update');
      const b = checkBody(body, { increment: 'duration' });
      if (!caller.renewable) throw new Reject(400, ['token is not renewable']);
      const increment = b.increment === undefined ? SYSTEM_MAX_TTL : seconds(b.increment);
      caller.expireAt = Math.min(Date.now() + increment * 1000, caller.maxAt);
      return {
        auth: {
          client_token: caller.value,
          accessor: caller.accessor,
          lease_duration: ttlOf(caller),
          renewable: true,
        },
      };
    }

    if (
      (path === 'auth/token/revoke-accessor' || path === 'auth/token/lookup-accessor') &&
      method === 'POST'
    ) {
      need('update');
      const b = checkBody(body, { accessor: 'string' }, ['accessor']);
      const t = tokens.get(accessors.get(b.accessor as string) ?? '');
      if (!t || !tokenLive(t)) throw new Reject(400, ['invalid accessor']);
      if (path.endsWith('revoke-accessor')) {
        revokeToken(t);
        return null;
      }
      return {
        data: {
          accessor: t.accessor,
          ttl: ttlOf(t),
          meta: t.meta,
          policies: t.policies,
          expire_time: iso(t.expireAt),
        },
      };
    }

    const revokeMatch = /^sys\/leases\/revoke(?:\/(.+))?$/.exec(path);
    if (revokeMatch && method === 'PUT') {
      need('update');
      const b = checkBody(body, { lease_id: 'string', sync: 'boolean' });
      const id = revokeMatch[1] ?? (b.lease_id as string | undefined);
      if (!id) throw new Reject(400, ['lease_id must be specified'], true);
      revokeLease(id);
      return null;
    }

    const renewMatch = /^sys\/leases\/renew\/(.+)$/.exec(path);
    if (renewMatch && method === 'PUT') {
      need('update');
      const b = checkBody(body, { increment: 'number' }, ['increment']);
      const l = leases.get(renewMatch[1] as string);
      if (!l || !leaseLive(l)) throw new Reject(400, ['lease not found']);
      if (!l.renewable) throw new Reject(400, ['lease is not renewable']);
      l.expireAt = Math.min(Date.now() + (b.increment as number) * 1000, l.maxAt);
      return {
        lease_id: l.id,
        lease_duration: Math.round((l.expireAt - Date.now()) / 1000),
        renewable: true,
      };
    }

    if (path === 'sys/leases/lookup' && method === 'PUT') {
      need('update');
      const b = checkBody(body, { lease_id: 'string' }, ['lease_id']);
      const l = leaseLookup(b.lease_id as string);
      return {
        data: {
          id: l.id,
          issue_time: iso(l.issuedAt),
          expire_time: iso(l.expireAt),
          renewable: l.renewable,
          ttl: Math.round((l.expireAt - Date.now()) / 1000),
        },
      };
    }

    const store = kvMount(path);
    if (store) {
      const entries = kv.get(store.mount) as Map<string, KvEntry>;
      if (store.kind === 'data' && method === 'GET' && !list) {
        need('read');
        const e = entries.get(store.key);
        if (!e) throw new Reject(404, []);
        return {
          data: {
            data: e.data,
            metadata: { version: e.version, created_time: e.created, deletion_time: '', destroyed: false },
          },
        };
      }
      if (store.kind === 'data' && method === 'POST') {
        const e = entries.get(store.key);
        need(e ? 'update' : 'create');
        const b = checkBody(body, { options: 'object', data: 'object' }, ['data']);
        const cas = (b.options as { cas?: unknown } | undefined)?.cas;
        if (cas !== undefined && cas !== (e?.version ?? 0)) {
          throw new Reject(400, ['check-and-set parameter did not match the current version']);
        }
        const next: KvEntry = {
          version: (e?.version ?? 0) + 1,
          data: b.data as Record<string, unknown>,
          created: iso(Date.now()),
        };
        entries.set(store.key, next);
        return {
          data: { version: next.version, created_time: next.created, deletion_time: '', destroyed: false },
        };
      }
      if (store.kind === 'metadata' && method === 'DELETE') {
        need('delete');
        entries.delete(store.key);
        return null;
      }
      if (store.kind === 'metadata' && method === 'GET' && list) {
        need('list');
        if (!store.key.endsWith('/') && store.key !== '')
          throw new Reject(400, ['list a folder: end the path with /'], true);
        const keys = new Set<string>();
        for (const k of entries.keys()) {
          if (!k.startsWith(store.key)) continue;
          const rest = k.slice(store.key.length);
          const slash = rest.indexOf('/');
          keys.add(slash < 0 ? rest : rest.slice(0, slash + 1));
        }
        if (keys.size === 0) throw new Reject(404, []);
        return { data: { keys: [...keys].sort() } };
      }
    }

    const engine = options.engines[path];
    if (engine && (method === 'GET' || method === 'POST')) {
      need(method === 'GET' ? 'read' : 'update');
      const b = method === 'POST' ? checkBody(body, engine.acceptsTtl ? { ttl: 'duration' } : {}) : {};
      if (method === 'GET' && body !== undefined) throw new Reject(400, ['a GET carries no body'], true);
      const username = `v-${caller.displayName.slice(0, 20)}-${randomBytes(4).toString('hex')}`;
      const password = randomBytes(15).toString('base64url');
      if (engine.leased === false)
        return { lease_id: '', lease_duration: 0, renewable: false, data: { username, password } };
      const asked = b.ttl === undefined ? engine.defaultTtl : seconds(b.ttl);
      const ttl = Math.min(asked, engine.maxTtl, SYSTEM_MAX_TTL);
      const issued = Date.now();
      const l: Lease = {
        id: `${path}/${randomBytes(12).toString('base64url')}`,
        path,
        accessor: caller.accessor,
        issuedAt: issued,
        expireAt: issued + ttl * 1000,
        maxAt: issued + Math.min(engine.maxTtl, SYSTEM_MAX_TTL) * 1000,
        renewable: engine.renewable,
        revoked: false,
        username,
        password,
        actions: engine.actions,
      };
      leases.set(l.id, l);
      return {
        request_id: randomUUID(),
        lease_id: l.id,
        lease_duration: ttl,
        renewable: l.renewable,
        data: { username, password },
        wrap_info: null,
        warnings: null,
        auth: null,
      };
    }
    const known = /\/creds\/|\/sts\//.test(path) && path.split('/').length >= 3;
    if (known && (method === 'GET' || method === 'POST')) {
      need(method === 'GET' ? 'read' : 'update');
      throw new Reject(400, [`unknown role: ${path.split('/').pop()}`]);
    }
    // Vault's own answer for a path nothing is mounted at; never one Stint should call.
    throw new Reject(404, [`no handler for route "${path}". route entry not found.`], true);
  }

  function use(body: unknown): { status: number; body: unknown } {
    const b = body as { username?: unknown; password?: unknown; action?: unknown } | undefined;
    const l = [...leases.values()].find((x) => x.username === b?.username && x.password === b?.password);
    if (!l || !leaseLive(l)) return { status: 401, body: { error: 'authentication failed' } };
    if (b?.action !== 'login' && !l.actions.includes(String(b?.action)))
      return { status: 403, body: { error: 'not allowed' } };
    return { status: 200, body: { ok: true } };
  }

  const ttlOf = (t: Token) =>
    t.expireAt === Number.POSITIVE_INFINITY ? 0 : Math.max(0, Math.round((t.expireAt - Date.now()) / 1000));

  const server = createServer(async (req, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://double');
    // The work is done when the request arrives, the answer delayed: a caller that gives up meanwhile has lost
    // the answer, not the effect, as on a real network.
    const send = async (status: number, payload: unknown) => {
      if (options.latencyMs) await new Promise((r) => setTimeout(r, options.latencyMs));
      if (res.destroyed) return;
      if (payload === null || status === 204) {
        res.writeHead(204).end();
        return;
      }
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
    };
    let body: unknown;
    try {
      body = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      violations.push(`${req.method} ${url.pathname}: body is not JSON`);
      await send(400, { errors: ['failed to parse JSON input'] });
      return;
    }
    if (url.pathname === '/_double/use' && req.method === 'POST') {
      const out = use(body);
      await send(out.status, out.body);
      return;
    }
    const path = decodeURIComponent(url.pathname.replace(/^\/v1\//, ''));
    const query = Object.fromEntries(url.searchParams);
    const call: RecordedCall = {
      method: req.method ?? '',
      path,
      query,
      namespace: req.headers['x-vault-namespace'] as string | undefined,
      body,
      status: 0,
    };
    calls.push(call);
    try {
      if (!url.pathname.startsWith('/v1/')) throw new Reject(404, ['not under /v1/'], true);
      if (req.headers['x-vault-request'] !== 'true')
        throw new Reject(400, ['missing X-Vault-Request: true'], true);
      if (raw !== '' && req.headers['content-type'] !== 'application/json') {
        throw new Reject(400, ['a body needs Content-Type: application/json'], true);
      }
      // sys/health reports on the node, not a namespace: Stint asks it without one (stricter than Vault may be).
      if (path === 'sys/health') {
        if (req.headers['x-vault-namespace'] !== undefined) {
          throw new Reject(400, ['sys/health is asked without a namespace'], true);
        }
      } else if (options.namespace !== undefined && req.headers['x-vault-namespace'] !== options.namespace) {
        throw new Reject(404, ['no handler for route (wrong or missing namespace)'], true);
      } else if (options.namespace === undefined && req.headers['x-vault-namespace'] !== undefined) {
        throw new Reject(400, ['namespaces are not enabled here'], true);
      }
      const failure = failures.findIndex((f) => f.path.test(path));
      if (failure >= 0) {
        const [f] = failures.splice(failure, 1);
        if (f) throw new Reject(f.status, f.errors);
      }
      const answer = await route(req, path, url.searchParams, body);
      call.status = answer === null ? 204 : 200;
      await send(200, answer);
    } catch (err) {
      if (!(err instanceof Reject)) {
        violations.push(`${req.method} ${path}: double failed: ${(err as Error).message}`);
        await send(500, { errors: ['internal error'] });
        return;
      }
      if (err.violation) violations.push(`${req.method} ${path}: ${err.message}`);
      call.status = err.status;
      await send(err.status, { errors: err.errors });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    violations: () => [...violations],
    calls: () => [...calls],
    clearCalls: () => {
      calls.length = 0;
    },
    failNext: (path, status, errors) => {
      failures.push({ path, status, errors });
    },
    principalExists(principal, markerMount = 'secret', markerPrefix = 'stint') {
      if (kv.get(markerMount)?.has(`${markerPrefix}/${principal}`)) return true;
      return [...leases.values()].some((l) => {
        if (!leaseLive(l) || l.accessor === null) return false;
        const t = tokens.get(accessors.get(l.accessor) ?? '');
        return t?.meta.stint_principal === principal;
      });
    },
    lease(id) {
      const l = leases.get(id);
      if (!l) return undefined;
      return {
        live: leaseLive(l),
        ttl: Math.round((l.expireAt - Date.now()) / 1000),
        renewable: l.renewable,
        accessor: l.accessor,
      };
    },
    liveLeases: () => [...leases.values()].filter(leaseLive).map((l) => l.id),
    token(accessor) {
      const t = tokens.get(accessors.get(accessor) ?? '');
      if (!t) return undefined;
      return { live: tokenLive(t), ttl: ttlOf(t), meta: { ...t.meta }, policies: [...t.policies] };
    },
    kvPut(mount, path, data) {
      const entries = kv.get(mount);
      if (!entries) throw new Error(`no KV mount ${mount}`);
      const e = entries.get(path);
      entries.set(path, { version: (e?.version ?? 0) + 1, data, created: iso(Date.now()) });
    },
    kvGet: (mount, path) => kv.get(mount)?.get(path)?.data,
    revokeLease(id) {
      const l = leases.get(id);
      if (l) l.revoked = true;
    },
    expireToken(accessor) {
      const t = tokens.get(accessors.get(accessor) ?? '');
      if (t) revokeToken(t);
    },
    setMissingLease(mode) {
      missingLease = mode;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
