import { ListPermissionSetsCommand } from '@aws-sdk/client-sso-admin';
import { StintError } from '../../../domain/errors.js';
import { type CredentialProvider, permanentProviderError } from '../../provider.js';
import type { AwsTarget } from '../aws-target.js';
import { isOwn, ledgerDeployment } from '../ledger.js';
import { isPrincipalName } from '../principal-name.js';
import { issueAssignment } from './issue-assignment.js';
import { allPsEntries, PsIndex, psOptions } from './ps-ledger.js';
import { releaseClaim } from './release-claim.js';

type ModeProvider = Omit<CredentialProvider, 'kind' | 'principalFor' | 'close'>;

/**
 * permission-set mode: an Identity Center account assignment per grant, deleted at revoke unless another live
 * grant holds the same one. Sessions the user opened through the portal last their permission set's session
 * duration: revoke stops new ones (endsSessions false for this mode).
 */
export function permissionSetMode(t: AwsTarget): ModeProvider {
  const index = new PsIndex();
  const id = t.config.resourceId;

  return {
    issue: (request, signal) => issueAssignment(t, index, request, signal),
    async revoke({ principal }, signal) {
      if (!isPrincipalName(principal))
        throw permanentProviderError(`aws target ${id}: "${principal}" is not a Stint principal name`, {
          resource: id,
        });
      const entries = await index.find(t, principal, signal);
      const mine = entries.filter((e) => isOwn(e, t.owner));
      if (mine.length === 0) {
        const theirs = entries[0];
        if (theirs) {
          throw new StintError(
            'PROVIDER_ERROR',
            `aws target ${id}: refusing to revoke ${principal}: another Stint store (${theirs.storeId}, deployment ${theirs.deployment || 'unnamed'}) issued it`,
            { resource: id, class: 'refused' },
          );
        }
        return { outcome: 'absent' };
      }
      for (const e of mine) await releaseClaim(t, e.permissionSetArn, e.userId, principal, signal);
      return { outcome: 'revoked' };
    },
    // An assignment has no end of its own: gone once no record of this store's remains (each is removed only
    // after its assignment was deleted, or left to another live grant).
    async verifyRevoked({ principal }, signal) {
      if (!isPrincipalName(principal)) return { gone: true };
      const mine = (await index.find(t, principal, signal)).filter((e) => isOwn(e, t.owner));
      return { gone: mine.length === 0 };
    },
    async listOwned(_request, signal) {
      const entries = await allPsEntries(t, signal);
      index.learn(entries);
      const seen = new Map<string, string>();
      for (const e of entries) if (isOwn(e, t.owner)) seen.set(e.principal, e.requestId);
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
      for (const e of await allPsEntries(t, signal))
        if (!isOwn(e, t.owner) && e.deployment === ledgerDeployment(t.owner.deployment))
          seen.set(e.principal, e.storeId);
      return { principals: [...seen].map(([principal, storeId]) => ({ principal, storeId })) };
    },
    async ping(_request, signal) {
      const { instanceArn, accountId } = psOptions(t);
      await t.send('list permission sets', signal, (o) =>
        t.sso.send(new ListPermissionSetsCommand({ InstanceArn: instanceArn, MaxResults: 1 }), o),
      );
      return { target: `AWS IAM Identity Center ${instanceArn}, account ${accountId}` };
    },
  };
}
