import type { ModuleRoutes, RouteAccess } from '../module.js';

/**
 * The one table of routes, keyed `METHOD /url` as Fastify registers them (HEAD follows its GET): the server's
 * own rows and every module's. A route that is not here does not boot (server/authenticate.ts checks every
 * route as it is added), and the authorization test walks this table against the server's real route table.
 */
export type RouteAccessTable = Readonly<Record<string, RouteAccess>>;

/** One table from many: a key two of them declare is a mistake caught at boot, not a silent override. */
export function routeAccessTable(parts: readonly (ModuleRoutes['access'] | undefined)[]): RouteAccessTable {
  const table: Record<string, RouteAccess> = {};
  for (const part of parts) {
    for (const [key, access] of Object.entries(part ?? {})) {
      if (Object.hasOwn(table, key))
        throw new Error(`route ${key} is declared twice in the route-access table`);
      table[key] = access;
    }
  }
  return Object.freeze(table);
}

/** The row of a route; HEAD is answered by its GET. Undefined for a route nobody declared. */
export function routeAccess(table: RouteAccessTable, method: string, url: string): RouteAccess | undefined {
  for (const key of [`${method === 'HEAD' ? 'GET' : method} ${url}`, `* ${url}`]) {
    if (Object.hasOwn(table, key)) return table[key];
  }
  return undefined;
}

/** Whether a credential with these scopes (null: a person, or a full-power token) may call the route. */
export function scopeAllows(access: RouteAccess, scopes: readonly string[] | null): boolean {
  if (scopes === null || access === 'any' || access === 'public' || access === 'scim-token') return true;
  return access !== null && scopes.includes(access);
}
