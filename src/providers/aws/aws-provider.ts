import type { Logger } from '../../logger.js';
import { joinRevokes } from '../join-revokes.js';
import type { CredentialProvider, TargetOwner } from '../provider.js';
import { assumeRoleMode } from './assume-role/assume-role-provider.js';
import type { AwsConfig } from './aws-config.js';
import { connectAws } from './aws-target.js';
import { permissionSetMode } from './permission-set/permission-set-provider.js';
import { principalFor } from './principal-name.js';

export interface AwsProviderOptions {
  config: AwsConfig;
  /** Written into every ledger tag and session tag; only records carrying this store id are touched. */
  owner: TargetOwner;
  logger?: Logger;
  /** Stint's clock in ms (tests move it to see windows end); Date.now by default. */
  now?: () => number;
}

/**
 * Credentials on AWS, in the mode the resource names: STS sessions of IAM roles (assume-role) or IAM Identity
 * Center account assignments (permission-set). docs/aws-target.md says what each needs and does.
 */
export function createAwsProvider(opts: AwsProviderOptions): CredentialProvider {
  const t = connectAws(opts.config, opts.owner, opts.logger, opts.now);

  const revoke = joinRevokes((principal, signal) => mode.revoke({ principal }, signal));
  const mode = opts.config.options.mode === 'assume-role' ? assumeRoleMode(t, revoke) : permissionSetMode(t);

  return {
    kind: 'aws',
    principalFor,
    issue: (request, signal) => mode.issue(request, signal),
    revoke: ({ principal }, signal) => revoke(principal, signal),
    verifyRevoked: (request, signal) => mode.verifyRevoked(request, signal),
    listOwned: (request, signal) => mode.listOwned(request, signal),
    listForeign: (request, signal) => mode.listForeign(request, signal),
    ping: (request, signal) => mode.ping(request, signal),
    async close() {
      t.close();
    },
  };
}
