import type { FastifyInstance, FastifySchema } from 'fastify';
import type { RouteAccessTable } from '../auth/route-access.js';

/** One route as Fastify registered it: what the OpenAPI document and the authorization table must cover. */
export interface RouteEntry {
  method: string;
  url: string;
  schema: FastifySchema & { hide?: boolean; operationId?: string };
  public: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered on this app (HEAD twins of GETs left out), in registration order. */
    routeTable: readonly RouteEntry[];
    /** Who may call each route: the server's rows and every mounted module's (auth/route-access.ts). */
    routeAccess: RouteAccessTable;
  }
}

/**
 * Records every route as it is added, plugins included. Call first: routes added before are not seen. The
 * table is what checks walk (documentation, authorization, bad input), so a new route cannot hide from them
 * the way it can from a hand-kept list or from the OpenAPI document it forgot to join.
 */
export function recordRoutes(app: FastifyInstance, access: RouteAccessTable): void {
  const table: RouteEntry[] = [];
  app.decorate('routeTable', table);
  app.decorate('routeAccess', access);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      // Fastify adds a HEAD for every GET on its own; it answers as the GET does.
      if (method === 'HEAD' && table.some((r) => r.method === 'GET' && r.url === route.url)) continue;
      table.push({
        method,
        url: route.url,
        schema: (route.schema ?? {}) as RouteEntry['schema'],
        public: (route.config as { public?: boolean } | undefined)?.public === true,
      });
    }
  });
}
