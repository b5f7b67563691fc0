import { defineKind } from '../kind.js';
import { lazyProvider } from '../lazy-provider.js';
import { principalFor } from './binding-mark.js';
import { parseGcpConfig } from './gcp-config.js';
import { gcpGrants, gcpOptions } from './gcp-options.js';

/**
 * Google Cloud: the requester may impersonate the role's service accounts for the window (a conditional
 * roles/iam.serviceAccountTokenCreator binding expiring with it). Revoke removes the binding: no new tokens.
 * Access tokens minted before it live to their own end (an hour at most by default), so sessions are not
 * claimed ended. Credentials come from the connection (a service account key) when given, else ADC.
 */
export const gcpKind = defineKind({
  kind: 'gcp',
  options: gcpOptions,
  grants: gcpGrants,
  connection: 'optional',
  capabilities: { revocation: 'remove', listable: true, endsSessions: false, contactsTargetAtIssue: true },
  deadlinesMs: { issue: 12_000, revoke: 30_000, listOwned: 30_000, listForeign: 30_000 },
  configure: (target, env) => parseGcpConfig(target, env),
  // The SDK loads with the first call on a resource of this kind, not with the server.
  create: (config, { owner, logger }) =>
    lazyProvider({ kind: 'gcp', principalFor }, async () =>
      (await import('./gcp-provider.js')).createGcpProvider({ config, owner, ...(logger ? { logger } : {}) }),
    ),
});
