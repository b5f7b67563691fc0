import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { TestTls } from './tls.js';

/**
 * A local HTTPS double of the Kubernetes API server, for the paths Stint and its users call: ServiceAccounts and
 * their TokenRequest subresource, RBAC roles and bindings, pods and secrets to read, and SelfSubjectReview. It is
 * an RBAC engine, not a mock: Stint's admin and every minted token are subjects, authorized by the bindings
 * present (ClusterRoleBindings everywhere, RoleBindings in their namespace), and creating a binding needs `bind`
 * on its role, as the API server's escalation check asks. Stint's own permissions are the RBAC manifest of
 * docs/kubernetes-target.md, loaded verbatim.
 *
 * Every request is checked for its exact path, method, query parameters, bearer token, Content-Type and body
 * fields; anything else is answered with a Status error and recorded as a violation, which the tests assert stays
 * empty. A minted token authenticates while it has not expired and its ServiceAccount exists with the same uid
 * (bound tokens are checked against the account on every request); TokenRequest refuses expirationSeconds < 600.
 */

type Obj = {
  apiVersion?: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    creationTimestamp?: string;
  };
  rules?: Rule[];
  roleRef?: { apiGroup: string; kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string; apiGroup?: string }[];
  [k: string]: unknown;
};

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

interface User {
  name: string;
  groups: string[];
}

interface Minted {
  namespace: string;
  name: string;
  uid: string;
  expires: number;
}

export interface KubeDoubleOptions {
  tls: TestTls;
  /** Stint's bearer token; it authenticates as the user `stint-admin`. */
  adminToken: string;
  /** Namespaces that exist besides those the manifests create. */
  namespaces: string[];
  /** ClusterRoles, Roles and bindings the cluster has (besides docs' Stint RBAC). */
  objects: Obj[];
  /** `--service-account-max-token-expiration`: longer requests are cut to it. */
  maxTokenSeconds?: number;
  /** Mints tokens expiring this much later than asked (an API server that extends them). */
  extendTokensBySeconds?: number;
  /** Added before each answer, so a cancellation can land between calls. */
  latencyMs?: number;
}

export interface KubeCall {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  user: string | null;
}

export interface KubeDouble {
  url: string;
  port: number;
  violations(): string[];
  calls(): KubeCall[];
  /** Root's view: the ServiceAccount, or any binding naming it as a subject. */
  principalExists(principal: string, namespace?: string): boolean;
  get(kind: string, namespace: string | null, name: string): Obj | undefined;
  /** Creates or replaces an object as the cluster's admin would (a foreign ServiceAccount, a binding). */
  put(obj: Obj): void;
  /** Deletes an object behind Stint's back. */
  remove(kind: string, namespace: string | null, name: string): void;
  /** Whether the API server would accept this bearer token now. */
  authenticates(token: string): boolean;
  /** When a minted token expires (ms since the epoch). */
  tokenExpiry(token: string): number | undefined;
  close(): Promise<void>;
}

const DOCS = fileURLToPath(new URL('../../../docs/kubernetes-target.md', import.meta.url));

/** The YAML block of docs/kubernetes-target.md whose first line is `# stint-rbac`, as objects. */
export function documentedRbac(): Obj[] {
  const docs = readFileSync(DOCS, 'utf8');
  const block = /```yaml\n# stint-rbac\n([\s\S]*?)```/.exec(docs);
  if (!block?.[1]) throw new Error('docs/kubernetes-target.md has no yaml block starting "# stint-rbac"');
  return parseAllDocuments(block[1]).map((d) => d.toJSON() as Obj);
}

class Reject extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly violation = false,
  ) {
    super(message);
  }
}

const key = (kind: string, namespace: string | null | undefined, name: string) =>
  `${kind}/${namespace ?? ''}/${name}`;

/** `a=b,c!=d,e,!f`: the label selector forms Stint and kubectl use. */
function selects(selector: string | null, labels: Record<string, string> | undefined): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  return selector.split(',').every((term) => {
    const t = term.trim();
    if (t.startsWith('!')) return !(t.slice(1) in l);
    const ne = t.indexOf('!=');
    if (ne >= 0) return l[t.slice(0, ne)] !== t.slice(ne + 2);
    const eq = t.indexOf('=');
    if (eq >= 0) return l[t.slice(0, eq)] === t.slice(eq + 1).replace(/^=/, '');
    return t in l;
  });
}

function only(value: unknown, keys: string[], where: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Reject(400, 'BadRequest', `${where} must be an object`, true);
  }
  for (const k of Object.keys(value)) {
    if (!keys.includes(k)) throw new Reject(400, 'BadRequest', `${where}: unexpected field ${k}`, true);
  }
  return value as Record<string, unknown>;
}

const isStringMap = (v: unknown) =>
  v === undefined ||
  (typeof v === 'object' && v !== null && Object.values(v).every((x) => typeof x === 'string'));

export async function startKubeDouble(options: KubeDoubleOptions): Promise<KubeDouble> {
  const objects = new Map<string, Obj>();
  const namespaces = new Set(options.namespaces);
  const tokens = new Map<string, Minted>();
  const violations: string[] = [];
  const calls: KubeCall[] = [];
  let version = 1;

  function store(obj: Obj) {
    if (obj.kind === 'Namespace') {
      namespaces.add(obj.metadata.name);
      return;
    }
    obj.metadata.uid ??= randomUUID();
    obj.metadata.resourceVersion = String(version++);
    obj.metadata.creationTimestamp ??= new Date().toISOString();
    objects.set(key(obj.kind, obj.metadata.namespace, obj.metadata.name), obj);
  }
  for (const o of [...documentedRbac(), ...options.objects]) store(structuredClone(o));

  function authenticate(req: IncomingMessage): User {
    const header = req.headers.authorization;
    const token = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : undefined;
    if (token === options.adminToken) return { name: 'stint-admin', groups: ['system:authenticated'] };
    const minted = token === undefined ? undefined : tokens.get(token);
    if (minted && minted.expires > Date.now()) {
      const sa = objects.get(key('ServiceAccount', minted.namespace, minted.name));
      if (sa?.metadata.uid === minted.uid) {
        return {
          name: `system:serviceaccount:${minted.namespace}:${minted.name}`,
          groups: [
            'system:serviceaccounts',
            `system:serviceaccounts:${minted.namespace}`,
            'system:authenticated',
          ],
        };
      }
    }
    throw new Reject(401, 'Unauthorized', 'Unauthorized');
  }

  const subjectIs = (s: NonNullable<Obj['subjects']>[number], user: User) =>
    (s.kind === 'User' && s.name === user.name) ||
    (s.kind === 'Group' && user.groups.includes(s.name)) ||
    (s.kind === 'ServiceAccount' && `system:serviceaccount:${s.namespace}:${s.name}` === user.name);

  function rulesOf(user: User, namespace: string | null): Rule[] {
    const rules: Rule[] = [];
    for (const o of objects.values()) {
      const bound = o.subjects?.some((s) => subjectIs(s, user));
      if (!bound || !o.roleRef) continue;
      if (o.kind === 'ClusterRoleBinding') {
        rules.push(...(objects.get(key('ClusterRole', null, o.roleRef.name))?.rules ?? []));
      } else if (o.kind === 'RoleBinding' && namespace !== null && o.metadata.namespace === namespace) {
        const role =
          o.roleRef.kind === 'ClusterRole'
            ? objects.get(key('ClusterRole', null, o.roleRef.name))
            : objects.get(key('Role', namespace, o.roleRef.name));
        rules.push(...(role?.rules ?? []));
      }
    }
    return rules;
  }

  function can(
    user: User,
    verb: string,
    group: string,
    resource: string,
    namespace: string | null,
    name?: string,
  ) {
    return rulesOf(user, namespace).some(
      (r) =>
        (r.verbs.includes(verb) || r.verbs.includes('*')) &&
        ((r.apiGroups ?? []).includes(group) || (r.apiGroups ?? []).includes('*')) &&
        ((r.resources ?? []).includes(resource) || (r.resources ?? []).includes('*')) &&
        (!r.resourceNames?.length || (name !== undefined && r.resourceNames.includes(name))),
    );
  }

  function authorize(
    user: User,
    verb: string,
    group: string,
    resource: string,
    namespace: string | null,
    name?: string,
  ) {
    if (!can(user, verb, group, resource, namespace, name)) {
      const where = namespace === null ? 'at the cluster scope' : `in the namespace "${namespace}"`;
      throw new Reject(
        403,
        'Forbidden',
        `${resource} ${name ? `"${name}" ` : ''}is forbidden: User "${user.name}" cannot ${verb} resource "${resource}" in API group "${group}" ${where}`,
      );
    }
  }

  function listOf(kind: string, namespace: string | null, selector: string | null) {
    const items = [...objects.values()].filter(
      (o) =>
        o.kind === kind &&
        (namespace === null || o.metadata.namespace === namespace) &&
        selects(selector, o.metadata.labels),
    );
    return {
      apiVersion: kind.endsWith('Binding') ? 'rbac.authorization.k8s.io/v1' : 'v1',
      kind: `${kind}List`,
      metadata: { resourceVersion: String(version) },
      items,
    };
  }

  function checkMeta(meta: unknown, namespace: string | null, where: string): Obj['metadata'] {
    const m = only(
      meta,
      namespace === null ? ['name', 'labels', 'annotations'] : ['name', 'namespace', 'labels', 'annotations'],
      `${where}.metadata`,
    );
    if (typeof m.name !== 'string' || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(m.name)) {
      throw new Reject(422, 'Invalid', `${where}.metadata.name: Invalid value`, true);
    }
    if (namespace !== null && m.namespace !== undefined && m.namespace !== namespace) {
      throw new Reject(
        400,
        'BadRequest',
        'the namespace of the object does not match the namespace on the request',
        true,
      );
    }
    if (!isStringMap(m.labels) || !isStringMap(m.annotations))
      throw new Reject(422, 'Invalid', 'labels and annotations must be string maps', true);
    return {
      name: m.name,
      ...(namespace ? { namespace } : {}),
      labels: m.labels as Record<string, string>,
      annotations: m.annotations as Record<string, string>,
    };
  }

  function createBinding(user: User, body: unknown, namespace: string | null): Obj {
    const kind = namespace === null ? 'ClusterRoleBinding' : 'RoleBinding';
    const b = only(body, ['apiVersion', 'kind', 'metadata', 'roleRef', 'subjects'], kind);
    if (b.apiVersion !== 'rbac.authorization.k8s.io/v1' || b.kind !== kind)
      throw new Reject(400, 'BadRequest', `expected ${kind}`, true);
    const metadata = checkMeta(b.metadata, namespace, kind);
    const roleRef = only(b.roleRef, ['apiGroup', 'kind', 'name'], 'roleRef') as Obj['roleRef'] & object;
    if (
      roleRef.apiGroup !== 'rbac.authorization.k8s.io' ||
      !['ClusterRole', 'Role'].includes(roleRef.kind) ||
      typeof roleRef.name !== 'string'
    ) {
      throw new Reject(422, 'Invalid', 'roleRef is invalid', true);
    }
    if (namespace === null && roleRef.kind !== 'ClusterRole')
      throw new Reject(422, 'Invalid', 'a ClusterRoleBinding must reference a ClusterRole', true);
    if (!Array.isArray(b.subjects) || b.subjects.length === 0)
      throw new Reject(422, 'Invalid', 'subjects must not be empty', true);
    const subjects = b.subjects.map((s) =>
      only(s, ['kind', 'name', 'namespace', 'apiGroup'], 'subject'),
    ) as NonNullable<Obj['subjects']>;
    // The API server's escalation check: making a binding needs `bind` on the role it references.
    const resource = roleRef.kind === 'ClusterRole' ? 'clusterroles' : 'roles';
    if (!can(user, 'bind', 'rbac.authorization.k8s.io', resource, namespace, roleRef.name)) {
      throw new Reject(
        403,
        'Forbidden',
        `${kind.toLowerCase()}s.rbac.authorization.k8s.io "${metadata.name}" is forbidden: user "${user.name}" is attempting to grant RBAC permissions not currently held (no bind on ${resource} "${roleRef.name}")`,
      );
    }
    return { apiVersion: 'rbac.authorization.k8s.io/v1', kind, metadata, roleRef, subjects };
  }

  function route(
    req: IncomingMessage,
    path: string,
    query: URLSearchParams,
    body: unknown,
    user: User | null,
  ): { status: number; body: unknown } {
    const method = req.method ?? '';
    const allowQuery = (...keys: string[]) => {
      for (const k of query.keys())
        if (!keys.includes(k)) throw new Reject(400, 'BadRequest', `unexpected query parameter ${k}`, true);
    };
    const noBody = () => {
      if (body !== undefined) throw new Reject(400, 'BadRequest', `${method} ${path} takes no body`, true);
    };
    const must = (u: User | null): User => {
      if (u === null) throw new Reject(401, 'Unauthorized', 'Unauthorized');
      return u;
    };
    const exists = (namespace: string) => {
      if (!namespaces.has(namespace))
        throw new Reject(404, 'NotFound', `namespaces "${namespace}" not found`);
    };
    const found = (kind: string, resource: string, namespace: string | null, name: string) => {
      const o = objects.get(key(kind, namespace, name));
      if (!o) throw new Reject(404, 'NotFound', `${resource} "${name}" not found`);
      return o;
    };
    let m: RegExpExecArray | null;

    if (path === '/version' && method === 'GET') {
      allowQuery();
      noBody();
      return {
        status: 200,
        body: { major: '1', minor: '31', gitVersion: 'v1.31.0+double', platform: 'linux/amd64' },
      };
    }

    m = /^\/api\/v1\/namespaces\/([^/]+)\/serviceaccounts$/.exec(path);
    if (m) {
      const ns = m[1] as string;
      const u = must(user);
      if (method === 'GET') {
        allowQuery('labelSelector', 'limit');
        noBody();
        authorize(u, 'list', '', 'serviceaccounts', ns);
        const list = listOf('ServiceAccount', ns, query.get('labelSelector'));
        const limit = query.get('limit');
        if (limit) list.items = list.items.slice(0, Number(limit));
        return { status: 200, body: list };
      }
      if (method === 'POST') {
        allowQuery();
        authorize(u, 'create', '', 'serviceaccounts', ns);
        exists(ns);
        const b = only(
          body,
          ['apiVersion', 'kind', 'metadata', 'automountServiceAccountToken'],
          'ServiceAccount',
        );
        if (b.apiVersion !== 'v1' || b.kind !== 'ServiceAccount')
          throw new Reject(400, 'BadRequest', 'expected a v1 ServiceAccount', true);
        if (b.automountServiceAccountToken !== false)
          throw new Reject(400, 'BadRequest', 'Stint must not let pods mount this account', true);
        const metadata = checkMeta(b.metadata, ns, 'ServiceAccount');
        if (objects.has(key('ServiceAccount', ns, metadata.name))) {
          throw new Reject(409, 'AlreadyExists', `serviceaccounts "${metadata.name}" already exists`);
        }
        const sa: Obj = {
          apiVersion: 'v1',
          kind: 'ServiceAccount',
          metadata,
          automountServiceAccountToken: false,
        };
        store(sa);
        return { status: 201, body: sa };
      }
    }

    m = /^\/api\/v1\/namespaces\/([^/]+)\/serviceaccounts\/([^/]+)$/.exec(path);
    if (m) {
      const [ns, name] = [m[1] as string, m[2] as string];
      const u = must(user);
      if (method === 'GET') {
        allowQuery();
        noBody();
        authorize(u, 'get', '', 'serviceaccounts', ns, name);
        return { status: 200, body: found('ServiceAccount', 'serviceaccounts', ns, name) };
      }
      if (method === 'DELETE') {
        allowQuery();
        authorize(u, 'delete', '', 'serviceaccounts', ns, name);
        const sa = found('ServiceAccount', 'serviceaccounts', ns, name);
        if (body !== undefined) {
          const b = only(body, ['apiVersion', 'kind', 'preconditions'], 'DeleteOptions');
          const pre =
            b.preconditions === undefined
              ? {}
              : only(b.preconditions, ['uid', 'resourceVersion'], 'preconditions');
          if (pre.uid !== undefined && pre.uid !== sa.metadata.uid) {
            throw new Reject(
              409,
              'Conflict',
              `Precondition failed: UID in precondition: ${String(pre.uid)}, UID in object meta: ${sa.metadata.uid}`,
            );
          }
        }
        objects.delete(key('ServiceAccount', ns, name));
        return { status: 200, body: sa };
      }
    }

    m = /^\/api\/v1\/namespaces\/([^/]+)\/serviceaccounts\/([^/]+)\/token$/.exec(path);
    if (m && method === 'POST') {
      const [ns, name] = [m[1] as string, m[2] as string];
      allowQuery();
      authorize(must(user), 'create', '', 'serviceaccounts/token', ns, name);
      const sa = found('ServiceAccount', 'serviceaccounts', ns, name);
      const b = only(body, ['apiVersion', 'kind', 'spec'], 'TokenRequest');
      if (b.apiVersion !== 'authentication.k8s.io/v1' || b.kind !== 'TokenRequest')
        throw new Reject(400, 'BadRequest', 'expected an authentication.k8s.io/v1 TokenRequest', true);
      const spec = only(b.spec, ['audiences', 'expirationSeconds'], 'spec');
      if (!Array.isArray(spec.audiences) || !Number.isInteger(spec.expirationSeconds))
        throw new Reject(400, 'BadRequest', 'spec needs audiences and expirationSeconds', true);
      const asked = spec.expirationSeconds as number;
      if (asked < 600) {
        throw new Reject(
          422,
          'Invalid',
          `TokenRequest.authentication.k8s.io "${name}" is invalid: spec.expirationSeconds: Invalid value: ${asked}: may not specify a duration less than 10 minutes`,
        );
      }
      const seconds =
        Math.min(asked, options.maxTokenSeconds ?? 48 * 3600) + (options.extendTokensBySeconds ?? 0);
      const token = `eyJ.${randomBytes(24).toString('base64url')}`;
      const expires = Date.now() + seconds * 1000;
      tokens.set(token, { namespace: ns, name, uid: sa.metadata.uid as string, expires });
      return {
        status: 201,
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          metadata: { name, namespace: ns, creationTimestamp: null },
          spec: {
            audiences: spec.audiences.length ? spec.audiences : ['https://kubernetes.default.svc'],
            expirationSeconds: seconds,
            boundObjectRef: null,
          },
          status: {
            token,
            expirationTimestamp: new Date(Math.floor(expires / 1000) * 1000)
              .toISOString()
              .replace('.000Z', 'Z'),
          },
        },
      };
    }

    m = /^\/api\/v1\/namespaces\/([^/]+)\/(pods|secrets|configmaps)$/.exec(path);
    if (m && method === 'GET') {
      const [ns, resource] = [m[1] as string, m[2] as string];
      allowQuery();
      noBody();
      authorize(must(user), 'list', '', resource, ns);
      const kind = resource === 'pods' ? 'Pod' : resource === 'secrets' ? 'Secret' : 'ConfigMap';
      return { status: 200, body: { apiVersion: 'v1', kind: `${kind}List`, metadata: {}, items: [] } };
    }

    if (path === '/apis/authentication.k8s.io/v1/selfsubjectreviews' && method === 'POST') {
      allowQuery();
      const u = must(user);
      const b = only(body, ['apiVersion', 'kind', 'metadata'], 'SelfSubjectReview');
      if (b.kind !== 'SelfSubjectReview')
        throw new Reject(400, 'BadRequest', 'expected a SelfSubjectReview', true);
      return {
        status: 201,
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'SelfSubjectReview',
          metadata: {},
          status: { userInfo: { username: u.name, groups: u.groups } },
        },
      };
    }

    const RBAC = '/apis/rbac.authorization.k8s.io/v1';
    m = new RegExp(`^${RBAC}/clusterroles/([^/]+)$`).exec(path);
    if (m && method === 'GET') {
      allowQuery();
      noBody();
      authorize(must(user), 'get', 'rbac.authorization.k8s.io', 'clusterroles', null, m[1]);
      return {
        status: 200,
        body: found('ClusterRole', 'clusterroles.rbac.authorization.k8s.io', null, m[1] as string),
      };
    }
    m = new RegExp(`^${RBAC}/namespaces/([^/]+)/roles/([^/]+)$`).exec(path);
    if (m && method === 'GET') {
      allowQuery();
      noBody();
      authorize(must(user), 'get', 'rbac.authorization.k8s.io', 'roles', m[1] as string, m[2]);
      return {
        status: 200,
        body: found('Role', 'roles.rbac.authorization.k8s.io', m[1] as string, m[2] as string),
      };
    }
    if (path === `${RBAC}/clusterrolebindings` || path === `${RBAC}/rolebindings`) {
      const cluster = path.endsWith('clusterrolebindings');
      const u = must(user);
      if (method === 'GET') {
        allowQuery('labelSelector');
        noBody();
        authorize(
          u,
          'list',
          'rbac.authorization.k8s.io',
          cluster ? 'clusterrolebindings' : 'rolebindings',
          null,
        );
        return {
          status: 200,
          body: listOf(cluster ? 'ClusterRoleBinding' : 'RoleBinding', null, query.get('labelSelector')),
        };
      }
      if (method === 'POST' && cluster) {
        allowQuery();
        authorize(u, 'create', 'rbac.authorization.k8s.io', 'clusterrolebindings', null);
        const b = createBinding(u, body, null);
        if (objects.has(key(b.kind, null, b.metadata.name)))
          throw new Reject(409, 'AlreadyExists', `clusterrolebindings "${b.metadata.name}" already exists`);
        store(b);
        return { status: 201, body: b };
      }
    }
    m = new RegExp(`^${RBAC}/namespaces/([^/]+)/rolebindings$`).exec(path);
    if (m && method === 'POST') {
      const ns = m[1] as string;
      allowQuery();
      const u = must(user);
      authorize(u, 'create', 'rbac.authorization.k8s.io', 'rolebindings', ns);
      exists(ns);
      const b = createBinding(u, body, ns);
      if (objects.has(key(b.kind, ns, b.metadata.name)))
        throw new Reject(409, 'AlreadyExists', `rolebindings "${b.metadata.name}" already exists`);
      store(b);
      return { status: 201, body: b };
    }
    m = new RegExp(`^${RBAC}/(?:namespaces/([^/]+)/)?(clusterrolebindings|rolebindings)/([^/]+)$`).exec(path);
    if (m && method === 'DELETE') {
      const [ns, resource, name] = [m[1] ?? null, m[2] as string, m[3] as string];
      if ((ns === null) !== (resource === 'clusterrolebindings'))
        throw new Reject(404, 'NotFound', 'no such path', true);
      allowQuery();
      noBody();
      authorize(must(user), 'delete', 'rbac.authorization.k8s.io', resource, ns, name);
      const kind = resource === 'clusterrolebindings' ? 'ClusterRoleBinding' : 'RoleBinding';
      found(kind, `${resource}.rbac.authorization.k8s.io`, ns, name);
      objects.delete(key(kind, ns, name));
      return {
        status: 200,
        body: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name, kind: resource },
        },
      };
    }
    throw new Reject(
      404,
      'NotFound',
      `the server could not find the requested resource (${method} ${path})`,
      true,
    );
  }

  const server = createServer(
    { cert: options.tls.cert, key: options.tls.key },
    async (req, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const raw = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'https://double');
      const call: KubeCall = {
        method: req.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        status: 0,
        user: null,
      };
      calls.push(call);
      let answer: { status: number; body: unknown };
      try {
        let body: unknown;
        if (raw !== '') {
          if (!String(req.headers['content-type']).startsWith('application/json'))
            throw new Reject(
              415,
              'UnsupportedMediaType',
              'a body needs Content-Type: application/json',
              true,
            );
          try {
            body = JSON.parse(raw);
          } catch {
            throw new Reject(400, 'BadRequest', 'the body is not JSON', true);
          }
        }
        let user: User | null = null;
        if (req.headers.authorization !== undefined || url.pathname !== '/version') user = authenticate(req);
        call.user = user?.name ?? null;
        answer = route(req, decodeURIComponent(url.pathname), url.searchParams, body, user);
      } catch (err) {
        if (!(err instanceof Reject)) {
          violations.push(`${req.method} ${url.pathname}: double failed: ${(err as Error).message}`);
          answer = {
            status: 500,
            body: {
              kind: 'Status',
              apiVersion: 'v1',
              status: 'Failure',
              message: 'internal error',
              reason: 'InternalError',
              code: 500,
            },
          };
        } else {
          if (err.violation) violations.push(`${req.method} ${url.pathname}: ${err.message}`);
          answer = {
            status: err.status,
            body: {
              kind: 'Status',
              apiVersion: 'v1',
              metadata: {},
              status: 'Failure',
              message: err.message,
              reason: err.reason,
              code: err.status,
            },
          };
        }
      }
      call.status = answer.status;
      // The work is done when the request arrives, the answer delayed: a caller that gives up meanwhile has lost the
      // answer, not the effect.
      if (options.latencyMs) await new Promise((r) => setTimeout(r, options.latencyMs));
      if (res.destroyed) return;
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `https://127.0.0.1:${port}`,
    port,
    violations: () => [...violations],
    calls: () => [...calls],
    principalExists(principal, namespace = 'stint') {
      if (objects.has(key('ServiceAccount', namespace, principal))) return true;
      return [...objects.values()].some((o) =>
        o.subjects?.some(
          (s) => s.kind === 'ServiceAccount' && s.name === principal && s.namespace === namespace,
        ),
      );
    },
    get: (kind, namespace, name) => objects.get(key(kind, namespace, name)),
    put: (obj) => store(structuredClone(obj)),
    remove: (kind, namespace, name) => {
      objects.delete(key(kind, namespace, name));
    },
    authenticates(token) {
      const minted = tokens.get(token);
      if (!minted || minted.expires <= Date.now()) return false;
      return objects.get(key('ServiceAccount', minted.namespace, minted.name))?.metadata.uid === minted.uid;
    },
    tokenExpiry: (token) => tokens.get(token)?.expires,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
