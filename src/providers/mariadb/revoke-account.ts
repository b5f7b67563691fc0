import { StintError } from '../../domain/errors.js';
import { permanentProviderError, type RevokeResult } from '../provider.js';
import type { Admin } from './connect.js';
import { isOwn, readAccount } from './marks.js';
import { isPrincipalName } from './principal-name.js';
import { removeAccount } from './remove-account.js';

/**
 * Ends a credential: account dropped, every connection of it killed, backstop and mark removed. Only an account
 * this store marked is touched; one already gone answers `absent` (after clearing what is left of it: a
 * connection that outlived the drop, the EVENT, the mark).
 */
export async function revokeAccount(
  admin: Admin,
  principal: string,
  signal: AbortSignal,
): Promise<RevokeResult> {
  const { resourceId } = admin.config;
  if (!isPrincipalName(principal)) {
    // No retry turns a name Stint never makes into one it does.
    throw permanentProviderError(
      `mariadb target ${resourceId}: "${principal}" is not a Stint principal name`,
      {
        resource: resourceId,
      },
    );
  }
  try {
    const { mark, marked, accounts, seesSessions } = await readAccount(admin, principal, signal);
    if (mark === null) {
      if (accounts === 0) return { outcome: 'absent' };
      throw new StintError(
        'PROVIDER_ERROR',
        `mariadb target ${resourceId}: refusing to revoke ${principal}: Stint did not create it (no row in stint_meta.principals)`,
        { resource: resourceId, class: 'refused' },
      );
    }
    if (!isOwn(mark, admin.owner)) {
      if (!marked) return { outcome: 'absent' };
      throw new StintError(
        'PROVIDER_ERROR',
        `mariadb target ${resourceId}: refusing to revoke ${principal}: another Stint store (${mark.storeId}, deployment ${mark.deployment}) created it`,
        { resource: resourceId, class: 'refused' },
      );
    }
    const sessionsEnded = await removeAccount(
      admin,
      principal,
      mark.host,
      seesSessions,
      admin.config.expiryEvent,
      signal,
    );
    return marked ? { outcome: 'revoked', sessionsEnded } : { outcome: 'absent', sessionsEnded };
  } catch (err) {
    throw admin.fail(`revoke ${principal}`, err, signal);
  }
}
