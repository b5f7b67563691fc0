import { randomBytes } from 'node:crypto';
import type { CredentialProvider } from '../src/providers/provider.js';

/**
 * A credential provider with no network I/O, for the throughput and memory figures: it keeps principals in a
 * map and hands out a random password, so what is measured is Stint itself (HTTP, policy, store, outbox, timers)
 * and not the target. The real provider's cost is the credential-latency figure.
 */
export function createMemoryProvider(): CredentialProvider & { readonly live: number } {
  const owned = new Map<string, string>();
  const principalFor = (requestId: string) => `stint_mem_${requestId.replace(/^req_/, '')}`;
  return {
    kind: 'memory',
    principalFor,
    get live() {
      return owned.size;
    },
    async issue(request) {
      const principal = principalFor(request.requestId);
      const password = randomBytes(32).toString('base64url');
      owned.set(principal, request.requestId);
      return {
        principal,
        secret: { url: `memory://${principal}:${password}@bench/db`, username: principal, password },
      };
    },
    async revoke({ principal }) {
      return { outcome: owned.delete(principal) ? 'revoked' : 'absent' };
    },
    async verifyRevoked({ principal }) {
      return { gone: !owned.has(principal) };
    },
    async listOwned() {
      return {
        principals: [...owned].map(([principal, requestId]) => ({
          principal,
          requestId,
          claim: 'store' as const,
        })),
      };
    },
    async listForeign() {
      return { principals: [] };
    },
    async ping() {
      return { target: 'memory' };
    },
    async close(): Promise<void> {
      owned.clear();
    },
  };
}
