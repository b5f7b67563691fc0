import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createKindRegistry } from '../../src/providers/registry.js';
import { vaultKind } from '../../src/providers/vault/index.js';
import { providerContract } from './contract.js';
import { startVaultDouble } from './doubles/vault.js';
import { documentedPolicies } from './doubles/vault-acl.js';

/**
 * The whole contract suite against Vault's HTTP API, served by a local double (no Vault server runs here): a
 * contract test against a double that checks every request on the wire and enforces the policies of
 * docs/vault-target.md verbatim. One double per file, started before the suite is declared: the crash tests' server
 * process reaches it over HTTP like any Vault.
 */
const ADMIN_TOKEN = `hvs.${randomBytes(18).toString('base64url')}`;
const ENV_VAR = 'STINT_CONTRACT_VAULT_TOKEN';
const double = await startVaultDouble({
  adminToken: ADMIN_TOKEN,
  adminPolicies: ['stint'],
  policies: documentedPolicies(),
  // Longer than the suite's one-hour windows and renewable: every issuance renews its lease down to the window.
  engines: {
    'database/creds/readonly': { defaultTtl: 86_400, maxTtl: 7 * 86_400, renewable: true, actions: ['read'] },
  },
  tokenRoles: { stint: { allowedPolicies: ['stint-creds'] } },
  latencyMs: 1,
});
afterAll(() => double.close());

const registry = createKindRegistry([vaultKind]);
const spec = (address: string) => ({
  id: 'contract-vault',
  kind: 'vault',
  connection: { env: ENV_VAR },
  options: vaultKind.options.parse({ address }),
});

async function use(secret: Record<string, string>, action: string): Promise<unknown> {
  const res = await fetch(`${double.url}/_double/use`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: secret.username, password: secret.password, action }),
  });
  if (res.status !== 200) throw new Error(`the engine refused ${action}: HTTP ${res.status}`);
  return res.json();
}

providerContract('vault (contract test against a Vault API double)', {
  kind: vaultKind,
  networked: true,
  server: {
    resourceYaml: `  - id: crash-target
    kind: vault
    sensitivity: routine
    connection: { env: ${ENV_VAR} }
    options: { address: '${double.url}' }
    roles:
      use: { grants: [database/creds/readonly] }`,
    env: { [ENV_VAR]: ADMIN_TOKEN },
  },
  fixture: async () => ({
    endpoint: { host: '127.0.0.1', port: double.port },
    grants: ['database/creds/readonly'],
    unknownGrant: 'database/creds/missing',
    makeProvider: (owner, via) =>
      registry.create(
        registry.resolve(spec(via ? `http://${via.host}:${via.port}` : double.url), {
          [ENV_VAR]: ADMIN_TOKEN,
        }),
        { owner },
      ),
    async openSession(secret) {
      await use(secret, 'login');
      return {
        doGranted: () => use(secret, 'read'),
        doUngranted: () => use(secret, 'write'),
        alive: () =>
          use(secret, 'login').then(
            () => true,
            () => false,
          ),
        close: async () => {},
      };
    },
    principalExists: async (principal) => double.principalExists(principal),
    close: async () => {},
  }),
});

describe('vault double: the wire', () => {
  it('saw no request outside Vault’s API as Stint should call it, and no call the documented policies deny', () => {
    expect(double.violations()).toEqual([]);
    const calls = double.calls();
    expect(calls.length).toBeGreaterThan(100);
    // The one path the suite grants on purpose without a policy line: its refusal is what "refused part-way" tests.
    const denied = calls.filter((c) => c.status === 403).map((c) => c.path);
    expect([...new Set(denied)]).toEqual(['database/creds/missing']);
  });
});
