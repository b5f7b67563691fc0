import { permanentProviderError, type RevokeResult } from '../provider.js';
import type { SshCa } from './issue-grant.js';
import { isPrincipalName } from './principal-name.js';
import { refused, sshFailure } from './ssh-errors.js';

/**
 * A certificate cannot be taken back from its holder: it is valid until the window ends. What revoke can do, it
 * does: the grant is marked revoked (no further certificate is signed for it) and its key id and serials go into
 * the KRL hosts read, so a host with the new list refuses new logins with it. Answers `expiring`, as an
 * expire-only kind must; `absent` when the ledger has nothing running under that name.
 */
export async function revokeGrant(ca: SshCa, principal: string, signal: AbortSignal): Promise<RevokeResult> {
  const { config, owner, ledger } = ca;
  const { resourceId } = config;
  if (!isPrincipalName(principal)) {
    throw permanentProviderError(`ssh target ${resourceId}: "${principal}" is not a Stint principal name`, {
      resource: resourceId,
    });
  }
  const action = `revoke ${principal}`;
  try {
    return await ledger.update(signal, (state, now): RevokeResult => {
      const record = state.grants[principal];
      if (!record || record.expiresAt <= now) return { outcome: 'absent' };
      if (record.storeId !== owner.storeId) {
        throw refused(
          resourceId,
          `refusing to revoke ${principal}: another Stint store (${record.storeId}, deployment ${record.deployment}) issued it`,
        );
      }
      record.revokedAt ??= now;
      return { outcome: 'expiring' };
    });
  } catch (e) {
    throw sshFailure(resourceId, action, e, signal);
  }
}
