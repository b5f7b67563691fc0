import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { isStintError, type StintError } from '../../src/domain/errors.js';
import type { Logger } from '../../src/logger.js';
import { PolicyError } from '../../src/policy/policy-error.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import type { PolicyProblem } from '../../src/policy/policy-types.js';
import { BUILTIN_KINDS } from '../../src/providers/kinds.js';
import { kubernetesKind } from '../../src/providers/kubernetes/index.js';
import { parseKubernetesConfig } from '../../src/providers/kubernetes/kube-config.js';
import { isNotFound } from '../../src/providers/kubernetes/kube-errors.js';
import { isPrincipalName, principalFor } from '../../src/providers/kubernetes/principal-name.js';
import {
  type CredentialProvider,
  isPermanentFailure,
  NO_CANCEL,
  type TargetOwner,
} from '../../src/providers/provider.js';
import { createKindRegistry } from '../../src/providers/registry.js';
import { lineOf, policyText, problemAt } from '../policy/fixtures.js';
import { CLUSTER_ROLES, kubeconfigFor, openKubeSession } from './doubles/kube-fixture.js';
import { type KubeDouble, type KubeDoubleOptions, startKubeDouble } from './doubles/kubernetes.js';
import { makeTestTls } from './doubles/tls.js';

/**
 * What the Kubernetes kind does beyond the shared contract, against the HTTPS API server double (contract tests
 * against a double: no cluster runs here): the 600 s floor, tokens that would outlive the window, grants it
 * refuses, ownership by label and annotation, what a revoke removes, and what is refused at policy load.
 */
const ADMIN_TOKEN = `adm.${randomBytes(24).toString('base64url')}`;
const ENV_VAR = 'STINT_TEST_KUBECONFIG';
const registry = createKindRegistry([kubernetesKind]);
const tls = makeTestTls();
const MIN = 60_000;
const HOUR = 60 * MIN;

const owner = (deployment = 'k8s-kind'): TargetOwner => ({
  deployment,
  storeId: `st_${randomBytes(8).toString('hex')}`,
});
const newId = () => `req_${randomBytes(6).toString('hex')}`;

const startDouble = (extra: Partial<KubeDoubleOptions> = {}) =>
  startKubeDouble({
    tls,
    adminToken: ADMIN_TOKEN,
    namespaces: ['team-a', 'default'],
    objects: CLUSTER_ROLES,
    ...extra,
  });

function capture(): { lines: string[]; logger: Logger } {
  const lines: string[] = [];
  const at = (obj: object, msg?: string) => lines.push(`${msg ?? ''} ${JSON.stringify(obj)}`);
  return { lines, logger: { info: at, warn: at, error: at } };
}

function providerFor(
  double: KubeDouble,
  opts: { owner?: TargetOwner; options?: Record<string, unknown>; token?: string; logger?: Logger } = {},
): CredentialProvider {
  const spec = {
    id: 'k8s-kind',
    kind: 'kubernetes',
    connection: { env: ENV_VAR },
    options: kubernetesKind.options.parse({ server: double.url, ...opts.options }),
  };
  return registry.create(
    registry.resolve(spec, { [ENV_VAR]: kubeconfigFor(double.url, tls, opts.token ?? ADMIN_TOKEN) }),
    {
      owner: opts.owner ?? owner(),
      ...(opts.logger ? { logger: opts.logger } : {}),
    },
  );
}

const issue = (p: CredentialProvider, grants: string[], requestId = newId(), ms = HOUR) =>
  p.issue(
    { requestId, requester: 'ann', role: 'ops', grants, expiresAt: new Date(Date.now() + ms) },
    NO_CANCEL,
  );

async function rejection(p: Promise<unknown>): Promise<StintError> {
  try {
    await p;
  } catch (e) {
    if (isStintError(e)) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

describe('kubernetes kind: names', () => {
  it('principals are DNS labels derived from the request id, long or odd ids hashed', () => {
    expect(principalFor('req_4F2a')).toBe('stint-req-4f2a');
    for (const id of ['x_', `req_${'a'.repeat(80)}`, 'ÄÖ', '--', 'a.b/c']) {
      const name = principalFor(id);
      expect(isPrincipalName(name)).toBe(true);
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
    }
    expect(principalFor(`req_${'a'.repeat(80)}1`)).not.toBe(principalFor(`req_${'a'.repeat(80)}2`));
    expect(isPrincipalName('stint-')).toBe(false);
    expect(isPrincipalName('default')).toBe(false);
  });
});

describe('kubernetes kind: what a 404 means', () => {
  it('only the API server’s NotFound Status reads as "already gone"; a proxy’s or a wrong URL’s 404 does not', () => {
    const status = JSON.stringify({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'NotFound',
      code: 404,
    });
    expect(isNotFound(new ApiException(404, 'Unknown API Status Code!', status, {}))).toBe(true);
    expect(
      isNotFound(new ApiException(404, 'Unknown API Status Code!', '<html>404 Not Found</html>', {})),
    ).toBe(false);
    expect(
      isNotFound(new ApiException(404, 'x', JSON.stringify({ kind: 'Status', reason: 'Gone' }), {})),
    ).toBe(false);
    expect(isNotFound(new ApiException(403, 'x', status, {}))).toBe(false);
  });
});

describe('kubernetes kind: checked when the policy is loaded', () => {
  function problems(edit: (resource: Record<string, unknown>) => void): {
    text: string;
    list: PolicyProblem[];
  } {
    const text = policyText((p) => {
      const resource: Record<string, unknown> = {
        id: 'prod-cluster',
        kind: 'kubernetes',
        sensitivity: 'routine',
        roles: { view: { grants: ['ClusterRole/team-a/view'] } },
      };
      edit(resource);
      p.resources.push(resource);
    });
    try {
      parsePolicy(text, 'stint.yaml', BUILTIN_KINDS);
    } catch (e) {
      expect(e).toBeInstanceOf(PolicyError);
      return { text, list: (e as PolicyError).problems };
    }
    return { text, list: [] };
  }

  it('takes a resource with no connection (in-cluster) and fills in the options’ defaults', () => {
    expect(problems(() => {}).list).toEqual([]);
    const text = policyText((p) => {
      p.resources.push({
        id: 'prod-cluster',
        kind: 'kubernetes',
        sensitivity: 'routine',
        roles: { ops: { grants: ['ClusterRole/view', 'ClusterRole/team-a/view', 'Role/team-a/deployer'] } },
      });
    });
    expect(parsePolicy(text, 'stint.yaml', BUILTIN_KINDS).resources.get('prod-cluster')).toMatchObject({
      connection: null,
      options: { namespace: 'stint', allowEscalatingGrants: false },
    });
  });

  it('grants RBAC cannot name are refused at file:line:column of each', () => {
    const { text, list } = problems((r) => {
      r.roles = {
        ops: { grants: ['Role/deployer', 'ClusterRole/Team_A/view', 'ClusterRole/view', 'Secret/team-a/db'] },
      };
    });
    const first = problemAt(list, 'resources[2].roles.ops.grants[0]');
    expect(first).toMatchObject({ file: 'stint.yaml', line: lineOf(text, 'Role/deployer') });
    expect(first.column).toBeGreaterThan(1);
    expect(first.message).toMatch(
      /ClusterRole\/<name>, ClusterRole\/<namespace>\/<name> or Role\/<namespace>\/<name>/,
    );
    expect(problemAt(list, 'resources[2].roles.ops.grants[1]').line).toBe(lineOf(text, 'Team_A'));
    expect(problemAt(list, 'resources[2].roles.ops.grants[3]').line).toBe(lineOf(text, 'Secret/team-a/db'));
    expect(list.some((p) => p.field === 'resources[2].roles.ops.grants[2]')).toBe(false);
  });

  it('bad options are refused where they are written', () => {
    const { text, list } = problems((r) => {
      r.options = { namespace: 'Stint!', server: 'http://k8s.internal:6443', allowEscalatingGrant: true };
    });
    expect(problemAt(list, 'resources[2].options.namespace')).toMatchObject({
      line: lineOf(text, 'Stint!'),
      message: 'must be a namespace name (a DNS label)',
    });
    expect(problemAt(list, 'resources[2].options.server').line).toBe(lineOf(text, 'http://k8s.internal'));
    expect(list.some((p) => /allowEscalatingGrant/.test(`${p.field} ${p.message}`))).toBe(true);
  });
});

describe('kubernetes kind: configuration', () => {
  const spec = (
    connection: { env: string } | { file: string } | null,
    options: Record<string, unknown> = {},
  ) => ({
    id: 'k',
    kind: 'kubernetes',
    connection,
    options: kubernetesKind.options.parse(options),
  });
  const messageOf = (run: () => unknown): string => {
    try {
      run();
    } catch (e) {
      expect(isStintError(e) && e.code === 'CONFIG_INVALID').toBe(true);
      return (e as Error).message;
    }
    throw new Error('expected CONFIG_INVALID');
  };
  const good = kubeconfigFor('https://127.0.0.1:6443', tls, 'tok-secret-value');

  it('names where it looked and never what it found', () => {
    expect(messageOf(() => registry.resolve(spec({ env: 'K' }), {}))).toMatch(/resource k: env K is not set/);
    const notYaml = messageOf(() =>
      registry.resolve(spec({ env: 'K' }), { K: 'token: tok-secret-value: [' }),
    );
    expect(notYaml).toMatch(/env K is not a kubeconfig/);
    expect(notYaml).not.toContain('tok-secret-value');
    expect(messageOf(() => registry.resolve(spec({ env: 'K' }, { context: 'prod' }), { K: good }))).toMatch(
      /env K has no context prod/,
    );
    const http = good.replace('https://127.0.0.1:6443', 'http://127.0.0.1:6443');
    expect(messageOf(() => registry.resolve(spec({ env: 'K' }), { K: http }))).toMatch(
      /must be an https:\/\/ URL/,
    );
    const insecure = parse(good);
    insecure.clusters[0].cluster['insecure-skip-tls-verify'] = true;
    delete insecure.clusters[0].cluster['certificate-authority-data'];
    expect(messageOf(() => registry.resolve(spec({ env: 'K' }), { K: JSON.stringify(insecure) }))).toMatch(
      /insecure-skip-tls-verify is refused/,
    );
    expect(messageOf(() => registry.resolve(spec(null), {}))).toMatch(/not running in a cluster/);
  });

  it('a kubeconfig file’s relative CA path is read from beside the file; its token is a secret to scrub', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-kubeconfig-'));
    try {
      writeFileSync(join(dir, 'ca.crt'), tls.ca);
      const cfg = parse(good);
      delete cfg.clusters[0].cluster['certificate-authority-data'];
      cfg.clusters[0].cluster['certificate-authority'] = 'ca.crt';
      writeFileSync(join(dir, 'config'), JSON.stringify(cfg));
      const resolved = registry.resolve(spec({ file: join(dir, 'config') }), {});
      const config = resolved.config as ReturnType<typeof parseKubernetesConfig>;
      expect(Buffer.from(config.caData as string, 'base64').toString()).toBe(tls.ca);
      expect(config.secrets).toContain('tok-secret-value');
      expect(config.publicServer).toBe('https://127.0.0.1:6443');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('in-cluster: the pod’s service account, from the env Stint was given and the mounted files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-sa-'));
    try {
      const sa = join(dir, 'serviceaccount');
      mkdirSync(sa);
      expect(
        messageOf(() =>
          parseKubernetesConfig(
            spec(null),
            { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' },
            sa,
          ),
        ),
      ).toMatch(/in-cluster service account files in .* cannot be read \(ENOENT\)/);
      writeFileSync(join(sa, 'token'), 'pod-token-value\n');
      writeFileSync(join(sa, 'ca.crt'), tls.ca);
      const config = parseKubernetesConfig(
        spec(null),
        { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' },
        sa,
      );
      expect(config.publicServer).toBe('https://[fd00::1]:443');
      expect(config.secrets).toContain('pod-token-value');
      expect(Buffer.from(config.caData as string, 'base64').toString()).toBe(tls.ca);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kubernetes kind: issue', () => {
  let double: KubeDouble;
  beforeAll(async () => {
    double = await startDouble();
  });
  afterAll(async () => {
    expect(double.violations()).toEqual([]);
    await double.close();
  });

  it('a ServiceAccount marked as this store’s, a binding per grant, a token ending with the window, as a kubeconfig', async () => {
    const me = owner();
    const p = providerFor(double, { owner: me });
    const requestId = newId();
    const started = Date.now();
    const cred = await issue(
      p,
      ['ClusterRole/team-a/view', 'Role/team-a/deployer', 'ClusterRole/view'],
      requestId,
    );
    const sa = double.get('ServiceAccount', 'stint', cred.principal);
    expect(sa?.metadata.labels).toMatchObject({
      'stint.dev/store': me.storeId,
      'stint.dev/request': requestId,
      'stint.dev/principal': cred.principal,
    });
    expect(sa?.metadata.annotations).toEqual({
      'stint.dev/store': me.storeId,
      'stint.dev/request': requestId,
      'stint.dev/deployment': me.deployment,
    });
    expect(sa?.automountServiceAccountToken).toBe(false);
    const kinds = double
      .calls()
      .filter((c) => c.method === 'POST' && /bindings$/.test(c.path) && c.status === 201)
      .slice(-3)
      .map((c) => c.path.replace('/apis/rbac.authorization.k8s.io/v1', ''));
    expect(kinds).toEqual([
      '/namespaces/team-a/rolebindings',
      '/namespaces/team-a/rolebindings',
      '/clusterrolebindings',
    ]);

    const expires = double.tokenExpiry(cred.secret.token as string) as number;
    expect(expires).toBeLessThanOrEqual(started + HOUR);
    expect(expires).toBeGreaterThan(started + HOUR - 10_000);

    const kubeconfig = parse(cred.secret.kubeconfig as string);
    expect(kubeconfig.clusters[0].cluster).toEqual({
      server: double.url,
      'certificate-authority-data': Buffer.from(tls.ca).toString('base64'),
    });
    expect(kubeconfig.users[0].user).toEqual({ token: cred.secret.token });
    expect(kubeconfig.contexts[0].context.namespace).toBe('team-a');

    // The official client, with what the user was handed: deployer lists secrets in team-a, view lists pods anywhere.
    const kc = new KubeConfig();
    kc.loadFromString(cred.secret.kubeconfig as string);
    const core = kc.makeApiClient(CoreV1Api);
    await expect(core.listNamespacedSecret({ namespace: 'team-a' })).resolves.toBeDefined();
    await expect(core.listNamespacedPod({ namespace: 'default' })).resolves.toBeDefined();
    await expect(core.listNamespacedSecret({ namespace: 'default' })).rejects.toThrow(/403/);
    await p.revoke({ principal: cred.principal }, NO_CANCEL);
  });

  it('Kubernetes mints no token under 600 s: a shorter window is refused clearly and nothing is created', async () => {
    const p = providerFor(double);
    const requestId = newId();
    const before = double.calls().length;
    const err = await rejection(issue(p, ['ClusterRole/team-a/view'], requestId, 5 * MIN));
    expect(err.message).toMatch(
      /no token shorter than 600 s \(10 minutes\) and this window has (29\d|300) s left/,
    );
    expect(isPermanentFailure(err)).toBe(true);
    expect(double.calls().length).toBe(before);
    expect(double.principalExists(p.principalFor(requestId))).toBe(false);
    // Just over the floor is fine.
    const cred = await issue(p, ['ClusterRole/team-a/view'], newId(), 10 * MIN + 10_000);
    expect(double.authenticates(cred.secret.token as string)).toBe(true);
    await p.revoke({ principal: cred.principal }, NO_CANCEL);
  });

  it('grants that would outlast the revoke are refused before anything is created', async () => {
    const p = providerFor(double);
    for (const grant of ['ClusterRole/team-a/edit', 'ClusterRole/cluster-admin']) {
      const requestId = newId();
      const err = await rejection(issue(p, ['ClusterRole/team-a/view', grant], requestId));
      expect(err.message).toMatch(
        new RegExp(`refusing to grant ${grant}: it lets its holder outlast the revoke`),
      );
      expect(isPermanentFailure(err)).toBe(true);
      expect(double.principalExists(p.principalFor(requestId))).toBe(false);
    }
    const edit = (await rejection(issue(p, ['ClusterRole/team-a/edit']))).message;
    expect(edit).toMatch(/impersonate on serviceaccounts/);
    expect(edit).toMatch(/create secrets/);
  });

  it('allowed anyway, such a grant still needs `bind` on it: the API server refuses, and what was made is undone', async () => {
    const p = providerFor(double, { options: { allowEscalatingGrants: true } });
    const requestId = newId();
    const err = await rejection(issue(p, ['ClusterRole/team-a/view', 'ClusterRole/team-a/edit'], requestId));
    expect(err.details).toMatchObject({ class: 'privilege' });
    expect(err.message).toMatch(/HTTP 403 Forbidden: .*no bind on clusterroles "edit"/);
    // The account and the view binding were created before the refusal, and removed after it.
    expect(double.principalExists(p.principalFor(requestId))).toBe(false);
  });

  it('a role that does not exist is refused: a binding to it would come alive the day someone creates it', async () => {
    const p = providerFor(double);
    const requestId = newId();
    const err = await rejection(issue(p, ['Role/team-a/nope'], requestId));
    expect(err.message).toMatch(/Role\/team-a\/nope: no such Role/);
    expect(double.principalExists(p.principalFor(requestId))).toBe(false);
  });

  it('a token the API server would make outlive the window is refused; one it cuts shorter is handed over', async () => {
    const extending = await startDouble({ extendTokensBySeconds: 365 * 86_400 });
    const capping = await startDouble({ maxTokenSeconds: 1_200 });
    try {
      const p = providerFor(extending);
      const requestId = newId();
      const err = await rejection(issue(p, ['ClusterRole/team-a/view'], requestId));
      expect(err.message).toMatch(/made the token expire .* after the window's end/);
      expect(isPermanentFailure(err)).toBe(true);
      expect(extending.principalExists(p.principalFor(requestId))).toBe(false);

      const short = providerFor(capping);
      const cred = await issue(short, ['ClusterRole/team-a/view']);
      const expires = capping.tokenExpiry(cred.secret.token as string) as number;
      expect(expires).toBeLessThanOrEqual(Date.now() + 1_200_000);
      await short.revoke({ principal: cred.principal }, NO_CANCEL);
      expect(extending.violations()).toEqual([]);
      expect(capping.violations()).toEqual([]);
    } finally {
      await extending.close();
      await capping.close();
    }
  });
});

describe('kubernetes kind: revoke and ownership', () => {
  let double: KubeDouble;
  beforeAll(async () => {
    double = await startDouble();
  });
  afterAll(async () => {
    expect(double.violations()).toEqual([]);
    await double.close();
  });

  it('revoke removes the bindings and the account; the token is refused from then on', async () => {
    const p = providerFor(double);
    const cred = await issue(p, ['ClusterRole/team-a/view', 'ClusterRole/view']);
    const session = await openKubeSession(cred.secret);
    expect(await session.alive()).toBe(true);
    expect(await p.revoke({ principal: cred.principal }, NO_CANCEL)).toEqual({ outcome: 'revoked' });
    expect(double.authenticates(cred.secret.token as string)).toBe(false);
    expect(await session.alive()).toBe(false);
    expect(double.principalExists(cred.principal)).toBe(false);
    expect((await p.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(true);
    expect(await p.revoke({ principal: cred.principal }, NO_CANCEL)).toEqual({ outcome: 'absent' });
  });

  it('two grants of one person overlap without cutting each other: revoking one leaves the other working', async () => {
    const p = providerFor(double);
    const first = await issue(p, ['ClusterRole/team-a/view']);
    const second = await issue(p, ['ClusterRole/team-a/view']);
    expect(first.principal).not.toBe(second.principal);
    await p.revoke({ principal: first.principal }, NO_CANCEL);
    expect(double.authenticates(first.secret.token as string)).toBe(false);
    const session = await openKubeSession(second.secret);
    await expect(session.doGranted()).resolves.toBeDefined();
    await p.revoke({ principal: second.principal }, NO_CANCEL);
  });

  it('bindings left by an account deleted by hand are found by listOwned and removed by revoke', async () => {
    const p = providerFor(double);
    const cred = await issue(p, ['ClusterRole/team-a/view', 'ClusterRole/view']);
    double.remove('ServiceAccount', 'stint', cred.principal);
    expect(double.principalExists(cred.principal)).toBe(true);
    expect((await p.listOwned({}, NO_CANCEL)).principals.map((o) => o.principal)).toContain(cred.principal);
    expect((await p.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(false);
    expect((await p.revoke({ principal: cred.principal }, NO_CANCEL)).outcome).toBe('revoked');
    expect(double.principalExists(cred.principal)).toBe(false);
  });

  it('another store’s account, an unmarked one, or a mismatched mark is never touched', async () => {
    const me = owner('shared-name');
    const p = providerFor(double, { owner: me });
    const theirsId = newId();
    const theirs = p.principalFor(theirsId);
    double.put({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: {
        name: theirs,
        namespace: 'stint',
        labels: { 'stint.dev/store': 'st_other0000000000', 'stint.dev/principal': theirs },
        annotations: {
          'stint.dev/store': 'st_other0000000000',
          'stint.dev/request': theirsId,
          'stint.dev/deployment': 'shared-name',
        },
      },
    });
    expect((await rejection(p.revoke({ principal: theirs }, NO_CANCEL))).message).toMatch(
      /another Stint store \(st_other0000000000, deployment shared-name\) created it/,
    );
    expect((await rejection(issue(p, ['ClusterRole/team-a/view'], theirsId))).message).toMatch(
      /a ServiceAccount of that name exists for another request or store/,
    );
    expect(double.get('ServiceAccount', 'stint', theirs)).toBeDefined();
    expect((await p.listForeign({}, NO_CANCEL)).principals).toContainEqual({
      principal: theirs,
      storeId: 'st_other0000000000',
    });
    expect((await p.listOwned({}, NO_CANCEL)).principals.map((o) => o.principal)).not.toContain(theirs);

    const unmarked = p.principalFor(newId());
    double.put({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: unmarked, namespace: 'stint' },
    });
    expect((await rejection(p.revoke({ principal: unmarked }, NO_CANCEL))).message).toMatch(
      /Stint did not create it/,
    );

    // A label claiming this store with an annotation naming another is no mark at all.
    const forged = p.principalFor(newId());
    double.put({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: {
        name: forged,
        namespace: 'stint',
        labels: { 'stint.dev/store': me.storeId },
        annotations: { 'stint.dev/store': 'st_other0000000000' },
      },
    });
    expect((await rejection(p.revoke({ principal: forged }, NO_CANCEL))).message).toMatch(
      /Stint did not create it/,
    );
    for (const name of [theirs, unmarked, forged])
      expect(double.get('ServiceAccount', 'stint', name)).toBeDefined();
  });

  it('a name Stint never makes is refused for good', async () => {
    const err = await rejection(providerFor(double).revoke({ principal: 'default' }, NO_CANCEL));
    expect(isPermanentFailure(err)).toBe(true);
  });

  it('ping names the cluster; a rejected admin token is an auth failure, never quoted', async () => {
    expect((await providerFor(double).ping({}, NO_CANCEL)).target).toBe('Kubernetes v1.31.0+double');
    const stale = await rejection(
      providerFor(double, { token: 'adm.rotated-away-token' }).ping({}, NO_CANCEL),
    );
    expect(stale.details).toMatchObject({ class: 'auth' });
    expect(stale.message).not.toContain('adm.rotated-away-token');
  });

  it('the admin token and issued tokens appear in no log line, on success or failure', async () => {
    const { lines, logger } = capture();
    const p = providerFor(double, { logger });
    const cred = await issue(p, ['ClusterRole/team-a/view']);
    await p.revoke({ principal: cred.principal }, NO_CANCEL);
    await rejection(issue(p, ['ClusterRole/team-a/edit']));
    await rejection(issue(p, ['Role/team-a/nope']));
    const all = lines.join('\n');
    expect(lines.length).toBeGreaterThan(3);
    for (const s of [ADMIN_TOKEN, cred.secret.token as string]) expect(all).not.toContain(s);
    expect(all).not.toMatch(/certificate-authority-data|BEGIN/);
  });
});
