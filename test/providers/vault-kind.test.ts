import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStintError, type StintError } from '../../src/domain/errors.js';
import type { Logger } from '../../src/logger.js';
import { PolicyError } from '../../src/policy/policy-error.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import type { PolicyProblem } from '../../src/policy/policy-types.js';
import { BUILTIN_KINDS } from '../../src/providers/kinds.js';
import {
  type CredentialProvider,
  isPermanentFailure,
  NO_CANCEL,
  type TargetOwner,
} from '../../src/providers/provider.js';
import { createKindRegistry } from '../../src/providers/registry.js';
import { vaultKind } from '../../src/providers/vault/index.js';
import { MARKER_KIND } from '../../src/providers/vault/marker.js';
import { lineOf, policyText, problemAt } from '../policy/fixtures.js';
import { startVaultDouble, type VaultDouble, type VaultDoubleOptions } from './doubles/vault.js';
import { documentedPolicies } from './doubles/vault-acl.js';

/**
 * What the Vault kind does beyond the shared contract, against the Vault API double (contract tests against a
 * double: no Vault runs here): leases cut to the window or refused, a lease Vault no longer knows counted as
 * revoked, the issuing token as the backstop, ownership by marker, AppRole and namespaces, and what is refused at
 * policy load.
 */
const ADMIN_TOKEN = `hvs.${randomBytes(18).toString('base64url')}`;
const ENV_VAR = 'STINT_TEST_VAULT_TOKEN';
const registry = createKindRegistry([vaultKind]);
const HOUR = 3_600_000;

const owner = (deployment = 'vault-kind'): TargetOwner => ({
  deployment,
  storeId: `st_${randomBytes(8).toString('hex')}`,
});
const newId = () => `req_${randomBytes(6).toString('hex')}`;

/** The documented policies, widened to the extra engines these tests mount. */
function testPolicies(): Record<string, string> {
  const docs = documentedPolicies();
  return {
    ...docs,
    'stint-extra': `
path "sys/leases/revoke/aws/sts/*" { capabilities = ["update"] }
path "sys/leases/renew/aws/sts/*" { capabilities = ["update"] }
path "sys/leases/revoke/kv1/creds/*" { capabilities = ["update"] }`,
    'stint-creds': `${docs['stint-creds']}
path "database/creds/*" { capabilities = ["read"] }
path "aws/sts/deploy" { capabilities = ["update"] }
path "kv1/creds/static" { capabilities = ["read"] }`,
  };
}

const ENGINES: VaultDoubleOptions['engines'] = {
  'database/creds/readonly': { defaultTtl: 86_400, maxTtl: 7 * 86_400, renewable: true, actions: ['read'] },
  'database/creds/longlived': {
    defaultTtl: 7 * 86_400,
    maxTtl: 7 * 86_400,
    renewable: false,
    actions: ['read'],
  },
  'database/creds/brief': { defaultTtl: 600, maxTtl: 7 * 86_400, renewable: true, actions: ['read'] },
  'aws/sts/deploy': {
    defaultTtl: 7 * 86_400,
    maxTtl: 7 * 86_400,
    renewable: false,
    acceptsTtl: true,
    actions: ['deploy'],
  },
  'kv1/creds/static': { defaultTtl: 0, maxTtl: 0, renewable: false, leased: false, actions: ['read'] },
};

async function startDouble(extra: Partial<VaultDoubleOptions> = {}): Promise<VaultDouble> {
  return startVaultDouble({
    adminToken: ADMIN_TOKEN,
    adminPolicies: ['stint', 'stint-extra'],
    policies: testPolicies(),
    engines: ENGINES,
    tokenRoles: { stint: { allowedPolicies: ['stint-creds'] } },
    ...extra,
  });
}

interface Lines {
  lines: string[];
  logger: Logger;
}
function capture(): Lines {
  const lines: string[] = [];
  const at = (obj: object, msg?: string) => lines.push(`${msg ?? ''} ${JSON.stringify(obj)}`);
  return { lines, logger: { info: at, warn: at, error: at } };
}

function providerFor(
  double: VaultDouble,
  opts: { owner?: TargetOwner; options?: Record<string, unknown>; secret?: string; logger?: Logger } = {},
): CredentialProvider {
  const spec = {
    id: 'vault-kind',
    kind: 'vault',
    connection: { env: ENV_VAR },
    options: vaultKind.options.parse({ address: double.url, ...opts.options }),
  };
  return registry.create(registry.resolve(spec, { [ENV_VAR]: opts.secret ?? ADMIN_TOKEN }), {
    owner: opts.owner ?? owner(),
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
}

const issue = (p: CredentialProvider, grants: string[], requestId = newId(), ms = HOUR) =>
  p.issue(
    { requestId, requester: 'ann', role: 'read', grants, expiresAt: new Date(Date.now() + ms) },
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

/** The marker Stint wrote for a principal, read as root. */
const markerOf = (double: VaultDouble, principal: string) =>
  double.kvGet('secret', `stint/${principal}`) as
    | { leases: string[]; accessor: string | null; store: string; request: string }
    | undefined;

describe('vault kind: checked when the policy is loaded', () => {
  function problems(edit: (resource: Record<string, unknown>) => void): {
    text: string;
    list: PolicyProblem[];
  } {
    const text = policyText((p) => {
      const resource: Record<string, unknown> = {
        id: 'orders-vault',
        kind: 'vault',
        sensitivity: 'routine',
        connection: { env: 'STINT_VAULT_TOKEN' },
        options: { address: 'https://vault.internal:8200' },
        roles: { read: { grants: ['database/creds/readonly'] } },
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

  it('takes a valid resource, with the options’ defaults filled in', () => {
    expect(problems(() => {}).list).toEqual([]);
    const text = policyText((p) => {
      p.resources.push({
        id: 'orders-vault',
        kind: 'vault',
        sensitivity: 'routine',
        connection: { env: 'STINT_VAULT_TOKEN' },
        options: { address: 'https://vault.internal:8200', auth: { method: 'approle', roleId: 'r-1' } },
        roles: { read: { grants: ['database/creds/readonly', 'aws/sts/deploy'] } },
      });
    });
    expect(parsePolicy(text, 'stint.yaml', BUILTIN_KINDS).resources.get('orders-vault')?.options).toEqual({
      address: 'https://vault.internal:8200',
      auth: { method: 'approle', roleId: 'r-1', mount: 'approle' },
      tokenRole: 'stint',
      tokenPolicies: ['stint-creds'],
      markerMount: 'secret',
      markerPrefix: 'stint',
      requestTtl: false,
    });
  });

  it('grants that are not credential paths are refused at file:line:column of each', () => {
    const { text, list } = problems((r) => {
      r.roles = {
        read: { grants: ['sys/leases/revoke-prefix', 'database/creds/readonly', 'auth/token/creds/x'] },
      };
    });
    const first = problemAt(list, 'resources[2].roles.read.grants[0]');
    expect(first).toMatchObject({ file: 'stint.yaml', line: lineOf(text, 'sys/leases/revoke-prefix') });
    expect(first.column).toBeGreaterThan(1);
    expect(first.message).toMatch(/credential path: <mount>\/creds\/<role>/);
    expect(problemAt(list, 'resources[2].roles.read.grants[2]')).toMatchObject({
      line: lineOf(text, 'auth/token/creds/x'),
      message: 'must not be under sys/, auth/, identity/ or cubbyhole/',
    });
    expect(list.some((p) => p.field === 'resources[2].roles.read.grants[1]')).toBe(false);
  });

  it('bad options are refused where they are written, and never echoed', () => {
    const { text, list } = problems((r) => {
      r.options = {
        address: 'ftp://user:hunter2@vault',
        adress: 'x',
        auth: { method: 'ldap' },
        requestTtl: 'yes',
      };
    });
    expect(problemAt(list, 'resources[2].options.address')).toMatchObject({
      line: lineOf(text, 'ftp://'),
      message: 'must be an http(s) URL with no credentials, query or fragment',
    });
    expect(problemAt(list, 'resources[2].options.requestTtl').line).toBe(lineOf(text, 'requestTtl'));
    expect(list.some((p) => p.field.startsWith('resources[2].options.auth'))).toBe(true);
    expect(list.some((p) => /adress/.test(`${p.field} ${p.message}`))).toBe(true);
    expect(JSON.stringify(list)).not.toMatch(/hunter2/);
  });

  it('a missing connection is a located problem; an unset or blank variable stops the boot naming it, not a value', () => {
    const { list } = problems((r) => {
      delete r.connection;
    });
    expect(problemAt(list, 'resources[2].id').message).toMatch(/kind vault needs a connection/);
    const spec = {
      id: 'v',
      kind: 'vault',
      connection: { env: 'STINT_UNSET_TOKEN' },
      options: vaultKind.options.parse({ address: 'https://vault:8200' }),
    };
    expect(() => registry.resolve(spec, {})).toThrow(/resource v: env STINT_UNSET_TOKEN is not set/);
    const secret = 'hvs.two words';
    let message = '';
    try {
      registry.resolve(spec, { STINT_UNSET_TOKEN: secret });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/must hold one token/);
    expect(message).not.toContain('two words');
  });
});

describe('vault kind: leases against the window', () => {
  let double: VaultDouble;
  beforeAll(async () => {
    double = await startDouble();
  });
  afterAll(async () => {
    expect(double.violations()).toEqual([]);
    await double.close();
  });

  it('reads the credential with an orphan issuing token bound to the window, recorded in the marker first', async () => {
    const me = owner();
    const p = providerFor(double, { owner: me });
    const requestId = newId();
    const cred = await issue(p, ['database/creds/readonly'], requestId);
    expect(Object.keys(cred.secret).sort()).toEqual(['password', 'username']);
    const marker = markerOf(double, cred.principal);
    expect(marker).toMatchObject({
      kind: MARKER_KIND,
      request: requestId,
      store: me.storeId,
      deployment: me.deployment,
    });
    const [lease] = marker?.leases ?? [];
    // A one-day renewable lease, renewed down to the hour.
    const l = double.lease(lease as string);
    expect(l?.live).toBe(true);
    expect(l?.ttl).toBeLessThanOrEqual(3600);
    expect(l?.ttl).toBeGreaterThan(3590);
    const token = double.token(marker?.accessor as string);
    expect(token).toMatchObject({
      live: true,
      policies: ['default', 'stint-creds'],
      meta: { stint_store: me.storeId, stint_request: requestId, stint_principal: cred.principal },
    });
    expect(token?.ttl).toBeLessThanOrEqual(3600);
    expect(token?.ttl).toBeGreaterThan(3590);
    // Stint's own token never read the credential path: the issuing token did.
    const reads = double.calls().filter((c) => c.path === 'database/creds/readonly');
    expect(reads.at(-1)?.method).toBe('GET');
    await p.revoke({ principal: cred.principal }, NO_CANCEL);
    expect(double.lease(lease as string)?.live).toBe(false);
    expect(double.token(marker?.accessor as string)?.live).toBe(false);
    expect(markerOf(double, cred.principal)).toBeUndefined();
  });

  it('a lease Vault will not cut to the window is refused clearly, and nothing of it is left', async () => {
    const p = providerFor(double);
    const requestId = newId();
    const before = new Set(double.liveLeases());
    const err = await rejection(issue(p, ['database/creds/longlived'], requestId));
    expect(err.code).toBe('PROVIDER_ERROR');
    expect(isPermanentFailure(err)).toBe(true);
    expect(err.message).toMatch(
      /database\/creds\/longlived hands leases of 604800s, longer than the \d+s window/,
    );
    expect(err.message).toMatch(/not renewable/);
    expect(double.principalExists(p.principalFor(requestId))).toBe(false);
    expect(double.liveLeases().filter((l) => !before.has(l))).toEqual([]);
  });

  it('an engine that takes a ttl is asked for the window (requestTtl): POST with ttl, lease within the window', async () => {
    const p = providerFor(double, { options: { requestTtl: true } });
    const cred = await issue(p, ['aws/sts/deploy'], newId(), 2 * HOUR);
    const post = double
      .calls()
      .filter((c) => c.path === 'aws/sts/deploy')
      .at(-1);
    expect(post?.method).toBe('POST');
    const ttl = Number(/^(\d+)s$/.exec(String((post?.body as { ttl?: string } | undefined)?.ttl))?.[1]);
    expect(ttl).toBeLessThanOrEqual(7200);
    expect(ttl).toBeGreaterThan(7190);
    const lease = markerOf(double, cred.principal)?.leases[0] as string;
    expect(double.lease(lease)?.ttl).toBeLessThanOrEqual(7200);
    await p.revoke({ principal: cred.principal }, NO_CANCEL);
  });

  it('a renewable lease shorter than the window is renewed up to it', async () => {
    const p = providerFor(double);
    const cred = await issue(p, ['database/creds/brief'], newId(), 3 * HOUR);
    const lease = markerOf(double, cred.principal)?.leases[0] as string;
    expect(double.lease(lease)?.ttl).toBeGreaterThan(3 * 3600 - 10);
    expect(double.lease(lease)?.ttl).toBeLessThanOrEqual(3 * 3600);
    await p.revoke({ principal: cred.principal }, NO_CANCEL);
  });

  it('a path that answers no lease (a static secret) is refused, and nothing is left', async () => {
    const p = providerFor(double);
    const requestId = newId();
    const err = await rejection(issue(p, ['kv1/creds/static'], requestId));
    expect(err.message).toMatch(/kv1\/creds\/static answered no lease of its own/);
    expect(isPermanentFailure(err)).toBe(true);
    expect(double.principalExists(p.principalFor(requestId))).toBe(false);
  });

  it('several grants: every credential, each field named by its path; one refused part-way leaves nothing', async () => {
    const p = providerFor(double);
    const cred = await issue(p, ['database/creds/readonly', 'database/creds/brief']);
    expect(Object.keys(cred.secret).sort()).toEqual([
      'database/creds/brief:password',
      'database/creds/brief:username',
      'database/creds/readonly:password',
      'database/creds/readonly:username',
    ]);
    expect(markerOf(double, cred.principal)?.leases).toHaveLength(2);
    await p.revoke({ principal: cred.principal }, NO_CANCEL);

    const requestId = newId();
    const before = new Set(double.liveLeases());
    await rejection(issue(p, ['database/creds/readonly', 'database/creds/longlived'], requestId));
    expect(double.liveLeases().filter((l) => !before.has(l))).toEqual([]);
    expect(double.principalExists(p.principalFor(requestId))).toBe(false);
  });

  it('Vault capping the issuing token below the window refuses the issue: every lease would end with it', async () => {
    const capped = await startDouble({
      tokenRoles: { stint: { allowedPolicies: ['stint-creds'], explicitMaxTtl: 900 } },
    });
    try {
      const p = providerFor(capped);
      const requestId = newId();
      const err = await rejection(issue(p, ['database/creds/readonly'], requestId));
      expect(err.message).toMatch(/caps the issuing token at 900s, shorter than the \d+s window/);
      expect(isPermanentFailure(err)).toBe(true);
      expect(capped.principalExists(p.principalFor(requestId))).toBe(false);
      expect(capped.violations()).toEqual([]);
    } finally {
      await capped.close();
    }
  });
});

describe('vault kind: revocation', () => {
  let double: VaultDouble;
  beforeAll(async () => {
    double = await startDouble();
  });
  afterAll(async () => {
    expect(double.violations()).toEqual([]);
    await double.close();
  });

  for (const mode of ['vault', 'not-found-400', 'not-found-404'] as const) {
    it(`a lease Vault no longer knows counts as revoked (unknown lease answered ${mode === 'vault' ? '204, as Vault does' : mode})`, async () => {
      double.setMissingLease(mode);
      try {
        const p = providerFor(double);
        const cred = await issue(p, ['database/creds/readonly']);
        const marker = markerOf(double, cred.principal);
        double.revokeLease(marker?.leases[0] as string);
        double.expireToken(marker?.accessor as string);
        expect((await p.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(true);
        expect(await p.revoke({ principal: cred.principal }, NO_CANCEL)).toEqual({ outcome: 'revoked' });
        expect(markerOf(double, cred.principal)).toBeUndefined();
        expect(await p.revoke({ principal: cred.principal }, NO_CANCEL)).toEqual({ outcome: 'absent' });
      } finally {
        double.setMissingLease('vault');
      }
    });
  }

  it('two grants of one person overlap without cutting each other: revoking one leaves the other working', async () => {
    const p = providerFor(double);
    const first = await issue(p, ['database/creds/readonly']);
    const second = await issue(p, ['database/creds/readonly']);
    expect(first.principal).not.toBe(second.principal);
    const [a, b] = [first, second].map((c) => markerOf(double, c.principal)?.leases[0] as string);
    await p.revoke({ principal: first.principal }, NO_CANCEL);
    expect(double.lease(a as string)?.live).toBe(false);
    expect(double.lease(b as string)?.live).toBe(true);
    expect((await p.verifyRevoked({ principal: second.principal }, NO_CANCEL)).gone).toBe(false);
    await p.revoke({ principal: second.principal }, NO_CANCEL);
  });

  it('a lease a crash kept out of the marker ends when revoke ends the issuing token', async () => {
    const p = providerFor(double);
    const cred = await issue(p, ['database/creds/readonly']);
    const marker = markerOf(double, cred.principal);
    const lease = marker?.leases[0] as string;
    // As if killed between Vault's answer and the marker's update.
    double.kvPut('secret', `stint/${cred.principal}`, { ...marker, leases: [] });
    expect((await p.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(false);
    expect((await p.revoke({ principal: cred.principal }, NO_CANCEL)).outcome).toBe('revoked');
    expect(double.lease(lease)?.live).toBe(false);
    expect(double.principalExists(cred.principal)).toBe(false);
  });

  it('verifyRevoked sees the credential live, then gone once Vault ended its token at the window', async () => {
    const p = providerFor(double);
    const cred = await issue(p, ['database/creds/readonly']);
    expect((await p.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(false);
    double.expireToken(markerOf(double, cred.principal)?.accessor as string);
    expect((await p.verifyRevoked({ principal: cred.principal }, NO_CANCEL)).gone).toBe(true);
    await p.revoke({ principal: cred.principal }, NO_CANCEL);
  });

  it('another store’s marker, and a secret at a marker path that is not Stint’s, are never touched', async () => {
    const me = owner('shared-name');
    const p = providerFor(double, { owner: me });
    const theirs = p.principalFor(newId());
    double.kvPut('secret', `stint/${theirs}`, {
      kind: MARKER_KIND,
      request: 'req_theirs',
      store: 'st_someoneelse0000',
      deployment: 'shared-name',
      accessor: null,
      leases: [],
    });
    const err = await rejection(p.revoke({ principal: theirs }, NO_CANCEL));
    expect(err.message).toMatch(
      /another Stint store \(st_someoneelse0000, deployment shared-name\) holds it/,
    );
    expect(double.kvGet('secret', `stint/${theirs}`)).toBeDefined();
    expect((await p.listForeign({}, NO_CANCEL)).principals).toContainEqual({
      principal: theirs,
      storeId: 'st_someoneelse0000',
    });
    expect((await p.listOwned({}, NO_CANCEL)).principals.map((o) => o.principal)).not.toContain(theirs);

    const requestId = newId();
    const squatted = p.principalFor(requestId);
    double.kvPut('secret', `stint/${squatted}`, { note: 'an application’s own secret' });
    expect((await rejection(p.revoke({ principal: squatted }, NO_CANCEL))).message).toMatch(
      /not a stint-vault\/1 marker/,
    );
    expect((await rejection(issue(p, ['database/creds/readonly'], requestId))).message).toMatch(
      /a marker of that name exists for another request or store/,
    );
    expect(double.kvGet('secret', `stint/${squatted}`)).toEqual({ note: 'an application’s own secret' });
  });

  it('a path nothing is mounted at is an error, never "already gone": a wrong marker mount revokes nothing', async () => {
    const wrong = await startDouble();
    try {
      const good = providerFor(wrong);
      const cred = await issue(good, ['database/creds/readonly']);
      const misconfigured = providerFor(wrong, { options: { markerMount: 'kv-typo' } });
      const err = await rejection(misconfigured.revoke({ principal: cred.principal }, NO_CANCEL));
      expect(err.message).toMatch(/HTTP 404 on kv-typo\/data\/stint\/.*no handler for route/);
      expect(isPermanentFailure(err)).toBe(false);
      expect(wrong.principalExists(cred.principal)).toBe(true);
      expect(wrong.violations()).toEqual([
        `GET kv-typo/data/stint/${cred.principal}: no handler for route "kv-typo/data/stint/${cred.principal}". route entry not found.`,
      ]);
      await good.revoke({ principal: cred.principal }, NO_CANCEL);
    } finally {
      await wrong.close();
    }
  });

  it('a name Stint never makes is refused for good', async () => {
    const err = await rejection(
      providerFor(double).revoke({ principal: 'database/creds/readonly/abc' }, NO_CANCEL),
    );
    expect(isPermanentFailure(err)).toBe(true);
  });
});

describe('vault kind: auth, namespaces and secrets', () => {
  it('AppRole: logs in with the secret_id, again when its token ages, and never shows the secret_id', async () => {
    const secretId = `sid-${randomBytes(16).toString('hex')}`;
    const double = await startDouble({
      approle: { mount: 'approle', roleId: 'role-1', secretId, policies: ['stint', 'stint-extra'], ttl: 2 },
    });
    try {
      const { lines, logger } = capture();
      const p = providerFor(double, {
        secret: secretId,
        logger,
        options: { auth: { method: 'approle', roleId: 'role-1' } },
      });
      const cred = await issue(p, ['database/creds/readonly']);
      expect((await p.revoke({ principal: cred.principal }, NO_CANCEL)).outcome).toBe('revoked');
      const logins = () => double.calls().filter((c) => c.path === 'auth/approle/login').length;
      expect(logins()).toBe(1);
      await new Promise((r) => setTimeout(r, 1_600));
      await p.ping({}, NO_CANCEL);
      expect(logins()).toBe(2);
      // An error that quotes the secret_id (a proxy echoing the request, say) leaves the wrapper without it.
      double.failNext(/^database\/creds\//, 500, [`upstream rejected secret_id=${secretId}`]);
      const err = await rejection(issue(p, ['database/creds/readonly']));
      expect(err.message).toMatch(/\[redacted\]/);
      expect(err.message).not.toContain(secretId);
      expect(lines.join('\n')).not.toContain(secretId);
      expect(lines.join('\n')).not.toContain(cred.secret.password as string);
      const wrong = providerFor(double, {
        secret: 'sid-wrong',
        options: { auth: { method: 'approle', roleId: 'role-1' } },
      });
      expect((await rejection(wrong.ping({}, NO_CANCEL))).message).toMatch(/invalid role or secret ID/);
      expect(double.violations()).toEqual([]);
    } finally {
      await double.close();
    }
  });

  it('a namespace is sent as X-Vault-Namespace on every call but sys/health, which is root-only', async () => {
    const double = await startDouble({ namespace: 'team-a' });
    try {
      const p = providerFor(double, { options: { namespace: 'team-a' } });
      const cred = await issue(p, ['database/creds/readonly']);
      await p.revoke({ principal: cred.principal }, NO_CANCEL);
      expect((await p.ping({}, NO_CANCEL)).target).toMatch(/^Vault /);
      const calls = double.calls().filter((c) => c.path !== 'sys/health');
      expect(calls.length).toBeGreaterThan(5);
      expect(calls.every((c) => c.namespace === 'team-a')).toBe(true);
      expect(double.calls().filter((c) => c.path === 'sys/health')).toEqual([
        expect.objectContaining({ namespace: undefined, status: 200 }),
      ]);
      expect(double.violations()).toEqual([]);
    } finally {
      await double.close();
    }
  });

  it('ping names Vault; a rotated token is an auth failure; a redirect is refused, not followed', async () => {
    const double = await startDouble();
    try {
      expect((await providerFor(double).ping({}, NO_CANCEL)).target).toBe('Vault 1.17.0+double');
      const stale = await rejection(providerFor(double, { secret: 'hvs.rotated-away' }).ping({}, NO_CANCEL));
      expect(stale.details).toMatchObject({ class: 'auth' });
      expect(stale.message).not.toContain('hvs.rotated-away');
      double.failNext(/^sys\/health$/, 307, []);
      expect((await rejection(providerFor(double).ping({}, NO_CANCEL))).message).toMatch(/redirected/);
    } finally {
      await double.close();
    }
  });

  it('issued secrets and Stint’s token appear in no log line, on success or failure', async () => {
    const double = await startDouble();
    try {
      const { lines, logger } = capture();
      const p = providerFor(double, { logger });
      const cred = await issue(p, ['database/creds/readonly']);
      await p.revoke({ principal: cred.principal }, NO_CANCEL);
      double.failNext(/^sys\/leases\/revoke\//, 500, [`internal error for token ${ADMIN_TOKEN}`]);
      const again = await issue(p, ['database/creds/readonly']);
      await rejection(p.revoke({ principal: again.principal }, NO_CANCEL));
      await p.revoke({ principal: again.principal }, NO_CANCEL);
      const all = lines.join('\n');
      expect(lines.length).toBeGreaterThan(3);
      for (const s of [ADMIN_TOKEN, cred.secret.password, again.secret.password])
        expect(all).not.toContain(s);
    } finally {
      await double.close();
    }
  });
});
