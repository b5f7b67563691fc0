import type { GcpOptions } from '../../src/providers/gcp/gcp-options.js';
import { gcpKind } from '../../src/providers/gcp/index.js';
import type { TargetOwner } from '../../src/providers/provider.js';
import { createKindRegistry } from '../../src/providers/registry.js';
import type { ContractSession, ContractTarget } from './contract.js';
import { conditionHolds } from './doubles/gcp/condition.js';
import type { GcpDouble } from './doubles/gcp/server.js';
import { PROJECT, saEmail } from './doubles/gcp/state.js';

export const READER = saEmail('app-reader');
export const KEY_ENV = 'STINT_GCP_TEST_KEY';
const registry = createKindRegistry([gcpKind]);

/** Options of a resource reaching the double (or a proxy in front of it), parsed as the policy loader would. */
export function gcpOptions(
  double: GcpDouble,
  via?: { host: string; port: number },
  extra: Record<string, unknown> = {},
) {
  const iam = via ? `http://${via.host}:${via.port}` : double.url;
  return gcpKind.options.parse({
    project: PROJECT,
    memberDomain: 'example.com',
    endpoints: { iam },
    ...extra,
  }) as GcpOptions;
}

export function gcpProvider(
  double: GcpDouble,
  owner: TargetOwner,
  opts: { via?: { host: string; port: number }; key?: string; extra?: Record<string, unknown> } = {},
) {
  const spec = {
    id: 'gcp-test',
    kind: 'gcp',
    connection: { env: KEY_ENV },
    options: gcpOptions(double, opts.via, opts.extra),
  };
  return registry.create(registry.resolve(spec, { [KEY_ENV]: opts.key ?? double.state.admin.keyJson }), {
    owner,
  });
}

/**
 * A session as its user would hold one: their own token asks iamcredentials for an access token of the service
 * account (refused unless a binding lets them now), which then reads (granted) or creates (not) accounts.
 */
export async function impersonate(
  double: GcpDouble,
  member: string,
  email: string,
): Promise<ContractSession> {
  const userToken = double.state.userTokens.get(member) ?? 'none';
  const res = await fetch(`${double.url}/v1/projects/-/serviceAccounts/${email}:generateAccessToken`, {
    method: 'POST',
    headers: { authorization: `Bearer ${userToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ scope: ['https://www.googleapis.com/auth/cloud-platform'], lifetime: '3600s' }),
  });
  if (res.status !== 200) throw new Error(`generateAccessToken refused: ${res.status} ${await res.text()}`);
  const { accessToken } = (await res.json()) as { accessToken: string };
  const as = async (method: 'GET' | 'POST') => {
    const r = await fetch(`${double.url}/v1/projects/${PROJECT}/serviceAccounts`, {
      method,
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      ...(method === 'POST' ? { body: JSON.stringify({ accountId: 'stint-contract-intruder' }) } : {}),
    });
    if (r.status !== 200) throw new Error(`refused: ${r.status}`);
    return r.json();
  };
  return {
    doGranted: () => as('GET'),
    doUngranted: () => as('POST'),
    alive: () =>
      as('GET').then(
        () => true,
        () => false,
      ),
    close: async () => {},
  };
}

/** Whether a Stint binding of that principal (any store's) is on some service account and still in force. */
export function bindingInForce(double: GcpDouble, principal: string): boolean {
  for (const sa of double.state.serviceAccounts.values()) {
    for (const b of sa.policy.bindings) {
      if (!b.condition?.description?.includes(`;principal=${principal}`)) continue;
      if (conditionHolds(b.condition.expression, double.now())) return true;
    }
  }
  return false;
}

export function gcpContractTarget(double: GcpDouble): ContractTarget {
  return {
    endpoint: { host: double.host, port: double.port },
    grants: [READER],
    unknownGrant: saEmail('nosuch-account'),
    makeProvider: (owner, via) => gcpProvider(double, owner, via ? { via } : {}),
    openSession: (secret) =>
      impersonate(double, secret.member as string, (secret.serviceAccounts ?? '').split(', ')[0] ?? ''),
    principalExists: async (principal) => bindingInForce(double, principal),
    close: async () => {},
  };
}

export function crashResource(double: GcpDouble): string {
  return `  - id: crash-target
    kind: gcp
    sensitivity: routine
    connection: { env: ${KEY_ENV} }
    options: { project: ${PROJECT}, memberDomain: example.com, endpoints: { iam: '${double.url}' } }
    roles:
      use: { grants: ['${READER}'] }`;
}
