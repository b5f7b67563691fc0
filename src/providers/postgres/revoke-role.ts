import { StintError } from '../../domain/errors.js';
import { permanentProviderError, type RevokeResult } from '../provider.js';
import { type Admin, checkSignal, ident, query } from './connect.js';
import { dropRole } from './drop-role.js';
import { isServerError, sqlState } from './postgres-errors.js';
import { COMMENT_PREFIX, isPrincipalName, parseComment } from './principal-name.js';
import { readRoleTag } from './tags.js';
import { terminateSessions } from './terminate-sessions.js';

/** Sessions may slip in between termination and the drop (a login already past authentication): try again. */
const DROP_ATTEMPTS = 3;
/** Catalog collisions with another revoker of the same role worth retrying. */
const COLLISION_ATTEMPTS = 3;

/**
 * Ends a credential: NOLOGIN, sessions terminated, then the role dropped. Only a role Stint made, for this
 * store, is touched; a role already gone answers `absent`.
 */
export async function revokeRole(
  admin: Admin,
  principal: string,
  signal: AbortSignal,
): Promise<RevokeResult> {
  const { resourceId } = admin.config;
  if (!isPrincipalName(principal)) {
    // No retry turns a name Stint never makes into one it does.
    throw permanentProviderError(
      `postgres target ${resourceId}: "${principal}" is not a Stint principal name`,
      { resource: resourceId },
    );
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await revokeOnce(admin, principal, signal);
    } catch (err) {
      if (err instanceof StintError && !signal.aborted) throw err;
      // Another process revoking the same role makes catalog updates collide ("tuple concurrently
      // updated/deleted"): whichever way the race went, the role gone is success, still there is worth another go.
      if (isServerError(err) && !(await exists(admin, principal, signal).catch(() => true))) {
        return { outcome: 'revoked' };
      }
      if (attempt < COLLISION_ATTEMPTS && isCollision(err)) continue;
      throw admin.fail(`revoke ${principal}`, err, signal);
    }
  }
}

async function exists(admin: Admin, principal: string, signal: AbortSignal): Promise<boolean> {
  return (await readRoleTag(admin, principal, signal)).exists;
}

async function revokeOnce(admin: Admin, principal: string, signal: AbortSignal): Promise<RevokeResult> {
  const { resourceId } = admin.config;
  const found = await readRoleTag(admin, principal, signal);
  if (!found.exists) return { outcome: 'absent' };
  const tag = parseComment(found.comment);
  if (tag === null) {
    throw new StintError(
      'PROVIDER_ERROR',
      `postgres target ${resourceId}: refusing to revoke role ${principal}: Stint did not create it (no ${COMMENT_PREFIX} comment)`,
      { resource: resourceId, class: 'refused' },
    );
  }
  if (tag.storeId !== null && tag.storeId !== admin.owner.storeId) {
    throw new StintError(
      'PROVIDER_ERROR',
      `postgres target ${resourceId}: refusing to revoke role ${principal}: another Stint store (${tag.storeId}, deployment ${tag.deployment ?? 'unnamed'}) created it`,
      { resource: resourceId, class: 'refused' },
    );
  }
  const role = ident(principal);
  // No new logins from here on. The membership lets the admin role signal the role's backends and reassign
  // what it owns without pg_signal_backend or standing membership in the team roles; it goes with the role.
  await query(admin, signal, `ALTER ROLE ${role} NOLOGIN; GRANT ${role} TO CURRENT_USER`);
  let sessionsEnded = await terminateSessions(admin, principal, signal);
  for (let attempt = 1; !(await dropRole(admin, principal, signal)); attempt++) {
    if (attempt === DROP_ATTEMPTS) throw new Error(`sessions of ${principal} keep appearing`);
    checkSignal(signal);
    sessionsEnded += await terminateSessions(admin, principal, signal);
  }
  return { outcome: 'revoked', sessionsEnded };
}

/** Two sessions changed the same catalog row at once, or deadlocked: retrying is the documented remedy. */
function isCollision(err: unknown): boolean {
  const state = sqlState(err);
  if (state === '40001' || state === '40P01') return true;
  return state === 'XX000' && /tuple concurrently (updated|deleted)/.test((err as Error).message);
}
