import { StintError } from '../../domain/errors.js';
import type { Logger } from '../../logger.js';
import { joinRevokes } from '../join-revokes.js';
import {
  type CredentialProvider,
  permanentProviderError,
  type RevokeResult,
  type TargetOwner,
} from '../provider.js';
import { isPrincipalName, principalFor } from './binding-mark.js';
import { allBindings, BindingIndex } from './find-bindings.js';
import type { GcpConfig } from './gcp-config.js';
import { connectGcp } from './iam-api.js';
import { issueBinding } from './issue-binding.js';
import { removeBindings } from './remove-bindings.js';

export interface GcpProviderOptions {
  config: GcpConfig;
  /** Written into every binding's condition; only bindings carrying this store id are touched. */
  owner: TargetOwner;
  logger?: Logger;
  now?: () => number;
}

/**
 * Credentials on Google Cloud: the requester may impersonate a service account for the window, through a
 * conditional IAM binding that IAM itself stops honouring at the window's end and that revoke removes.
 * docs/gcp-target.md says what it needs and does.
 */
export function createGcpProvider(opts: GcpProviderOptions): CredentialProvider {
  const t = connectGcp(opts.config, opts.owner, opts.logger, opts.now);
  const index = new BindingIndex();
  const id = opts.config.resourceId;

  async function revokeOnce(principal: string, signal: AbortSignal): Promise<RevokeResult> {
    if (!isPrincipalName(principal))
      throw permanentProviderError(`gcp target ${id}: "${principal}" is not a Stint principal name`, {
        resource: id,
      });
    const found = await index.find(t, principal, signal);
    const mine = found.filter((f) => f.storeId === t.owner.storeId);
    if (mine.length === 0) {
      const theirs = found[0];
      if (theirs) {
        throw new StintError(
          'PROVIDER_ERROR',
          `gcp target ${id}: refusing to revoke ${principal}: another Stint store (${theirs.storeId}, deployment ${theirs.deployment || 'unnamed'}) issued it`,
          { resource: id, class: 'refused' },
        );
      }
      return { outcome: 'absent' };
    }
    let removed = false;
    for (const email of new Set(mine.map((f) => f.serviceAccount)))
      removed = (await removeBindings(t, email, principal, signal)) || removed;
    return { outcome: removed ? 'revoked' : 'absent' };
  }

  const revoke = joinRevokes((principal, signal) => revokeOnce(principal, signal));

  return {
    kind: 'gcp',
    principalFor,
    issue: (request, signal) => issueBinding(t, index, request, signal),
    revoke: ({ principal }, signal) => revoke(principal, signal),
    async verifyRevoked({ principal }, signal) {
      if (!isPrincipalName(principal)) return { gone: true };
      const mine = (await index.find(t, principal, signal)).filter((f) => f.storeId === t.owner.storeId);
      return { gone: mine.length === 0 };
    },
    async listOwned(_request, signal) {
      const all = await allBindings(t, signal);
      index.learn(all);
      const seen = new Map<string, string>();
      for (const f of all) if (f.storeId === t.owner.storeId) seen.set(f.principal, f.requestId);
      return {
        principals: [...seen].map(([principal, requestId]) => ({
          principal,
          requestId,
          claim: 'store' as const,
        })),
      };
    },
    async listForeign(_request, signal) {
      const seen = new Map<string, string>();
      for (const f of await allBindings(t, signal))
        if (f.storeId !== t.owner.storeId && f.deployment === t.owner.deployment.slice(0, 64))
          seen.set(f.principal, f.storeId);
      return { principals: [...seen].map(([principal, storeId]) => ({ principal, storeId })) };
    },
    async ping(_request, signal) {
      await t.serviceAccounts(signal, 1);
      return { target: `Google Cloud IAM, project ${opts.config.options.project}` };
    },
    async close() {},
  };
}
