import { StintError } from '../../domain/errors.js';
import { permanentProviderError, type RevokeResult } from '../provider.js';
import { type Admin, withSession } from './connect.js';
import { parseName } from './principal-name.js';
import { removeUser } from './remove-user.js';

/**
 * Ends a credential: its connections killed, the user deleted and the deletion saved. Only a user whose name
 * carries this store's mark is touched; one already gone answers `absent`.
 */
export async function revokeUser(
  admin: Admin,
  principal: string,
  signal: AbortSignal,
): Promise<RevokeResult> {
  const { resourceId } = admin.config;
  const parsed = parseName(principal);
  if (parsed === null) {
    // No retry turns a name Stint never makes into one it does.
    throw permanentProviderError(`redis target ${resourceId}: "${principal}" is not a Stint principal name`, {
      resource: resourceId,
    });
  }
  if (parsed.storeId !== admin.owner.storeId) {
    throw new StintError(
      'PROVIDER_ERROR',
      `redis target ${resourceId}: refusing to revoke user ${principal}: another Stint store (${parsed.storeId}) created it`,
      { resource: resourceId, class: 'refused' },
    );
  }
  try {
    const removed = await withSession(admin, signal, (session) => removeUser(session, principal, signal));
    return removed.existed
      ? { outcome: 'revoked', sessionsEnded: removed.sessionsEnded }
      : { outcome: 'absent', sessionsEnded: 0 };
  } catch (err) {
    throw admin.fail(`revoke ${principal}`, err, signal);
  }
}
