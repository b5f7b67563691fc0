import type { ForeignPrincipal, OwnedPrincipal } from '../provider.js';
import { type Admin, withSession } from './connect.js';
import { type ParsedName, PRINCIPAL_PREFIX, parseName } from './principal-name.js';

/** Every user whose name Stint could have made, with what the name says. `ACL USERS` names only, no hashes. */
async function stintUsers(
  admin: Admin,
  signal: AbortSignal,
): Promise<{ principal: string; tag: ParsedName }[]> {
  const users = (await withSession(admin, signal, (s) => s.call('ACL', 'USERS'))) as string[];
  return users
    .filter((u) => u.startsWith(PRINCIPAL_PREFIX))
    .sort()
    .flatMap((principal) => {
      const tag = parseName(principal);
      return tag ? [{ principal, tag }] : [];
    });
}

/**
 * Users this store created and that still exist, whatever deployment name they were made under (a renamed
 * deployment keeps its store). Names carry the request, so every one is claimed with it.
 */
export async function listOwned(admin: Admin, signal: AbortSignal): Promise<OwnedPrincipal[]> {
  return (await stintUsers(admin, signal))
    .filter((u) => u.tag.storeId === admin.owner.storeId)
    .map((u) => ({ principal: u.principal, requestId: u.tag.requestId, claim: 'store' as const }));
}

/** Users another store made under this deployment's name: two deployments share the name. */
export async function listForeign(admin: Admin, signal: AbortSignal): Promise<ForeignPrincipal[]> {
  return (await stintUsers(admin, signal))
    .filter((u) => u.tag.storeId !== admin.owner.storeId && u.tag.deployment === admin.marks.deployment)
    .map((u) => ({ principal: u.principal, storeId: u.tag.storeId }));
}
