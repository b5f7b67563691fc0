import { defineKind } from '../kind.js';
import { parseVaultConfig, vaultGrants, vaultOptions } from './vault-config.js';
import { createVaultProvider } from './vault-provider.js';

/**
 * Vault / OpenBao dynamic secrets: per request, the credentials of the secrets-engine roles the policy grants
 * (`database/creds/readonly`), each a lease cut to the window and revoked at its end. Removable and listable
 * (a KV marker per principal carries the owning store); whether revoking a lease ends live sessions is the
 * engine's business (its revocation statements), so Stint does not claim it.
 */
export const vaultKind = defineKind({
  kind: 'vault',
  options: vaultOptions,
  grants: vaultGrants,
  connection: 'required',
  capabilities: {
    revocation: 'remove',
    listable: true,
    endsSessions: false,
    contactsTargetAtIssue: true,
    inventory: {
      lists: 'none',
      why: 'who holds which policy lives in tokens and auth-method roles: listing tokens (auth/token/accessors) needs sudo, and reading every auth method, entity and group needs broad read on sys/ and identity/, standing privilege the documented Stint policy deliberately lacks',
    },
  },
  configure: (target, env) => parseVaultConfig(target, env),
  create: (config, { owner, logger }) =>
    createVaultProvider({ config, owner, ...(logger ? { logger } : {}) }),
});
