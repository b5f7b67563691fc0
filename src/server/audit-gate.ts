import type { FastifyInstance } from 'fastify';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Fails closed while the audit trail is broken: every state change is refused with AUDIT_UNAVAILABLE (503),
 * because its event could never be signed. Reads go on, and so do the audit routes (verify, checkpoints,
 * proofs), which are how an operator finds and proves what broke.
 */
export function registerAuditGate(app: FastifyInstance, assertWritable: () => void): void {
  app.addHook('preHandler', async (request) => {
    if (READS.has(request.method)) return;
    // The matched route, not the raw URL: no path spelling can pass for an audit route.
    const route = request.routeOptions.url ?? '';
    if (route.startsWith('/v1/audit/') || route.startsWith('/audit/')) return;
    assertWritable();
  });
}
