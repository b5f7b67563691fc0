import { defineKind, type KindCapabilities } from '../kind.js';
import { lazyProvider } from '../lazy-provider.js';
import { parseAwsConfig } from './aws-config.js';
import { awsGrants, awsOptions } from './aws-options.js';
import { principalFor } from './principal-name.js';

/**
 * What each mode can do. assume-role: revoke puts a deny on the role conditioned on the request's session tag,
 * which refuses every later call of that request's sessions (revocation `remove`, sessions ended) while the
 * token itself lives on to its expiry; permission-set: the assignment is deleted, but portal sessions already
 * opened last their permission set's session duration.
 */
export const MODE_CAPABILITIES = {
  'assume-role': { revocation: 'remove', listable: true, endsSessions: true, contactsTargetAtIssue: true },
  'permission-set': {
    revocation: 'remove',
    listable: true,
    endsSessions: false,
    contactsTargetAtIssue: true,
  },
} as const satisfies Record<string, KindCapabilities>;

/**
 * AWS: an STS role session per grant (assume-role) or an IAM Identity Center account assignment (permission-set),
 * chosen per resource by `options.mode`. A kind declares one set of capabilities, so it declares what both modes
 * can: sessions are not claimed ended (true of assume-role, not of permission-set). Credentials come from the
 * connection when given, else the SDK's default chain.
 */
export const awsKind = defineKind({
  kind: 'aws',
  options: awsOptions,
  grants: awsGrants,
  connection: 'optional',
  capabilities: { revocation: 'remove', listable: true, endsSessions: false, contactsTargetAtIssue: true },
  // Under the issuer's 15 s claim; a revoke may wait out Identity Center's deprovisioning.
  deadlinesMs: { issue: 12_000, revoke: 45_000, listOwned: 30_000, listForeign: 30_000 },
  configure: (target, env) => parseAwsConfig(target, env),
  // The SDK loads with the first call on a resource of this kind, not with the server.
  create: (config, { owner, logger }) =>
    lazyProvider({ kind: 'aws', principalFor }, async () =>
      (await import('./aws-provider.js')).createAwsProvider({ config, owner, ...(logger ? { logger } : {}) }),
    ),
});
