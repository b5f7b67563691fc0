import { randomBytes } from 'node:crypto';
import type {
  CredentialProvider,
  IssuedCredential,
  IssueInput,
  OwnedPrincipal,
} from '../src/providers/provider.js';

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
    async issue(input: IssueInput): Promise<IssuedCredential> {
      const principal = principalFor(input.requestId);
      const password = randomBytes(32).toString('base64url');
      owned.set(principal, input.requestId);
      return {
        principal,
        secret: { url: `memory://${principal}:${password}@bench/db`, username: principal, password },
      };
    },
    async revoke(principal: string): Promise<void> {
      owned.delete(principal);
    },
    async verifyRevoked(principal: string): Promise<boolean> {
      return !owned.has(principal);
    },
    async listOwned(): Promise<OwnedPrincipal[]> {
      return [...owned].map(([principal, requestId]) => ({ principal, requestId, legacy: false }));
    },
    async listForeign() {
      return [];
    },
    async ping(): Promise<void> {},
    async close(): Promise<void> {
      owned.clear();
    },
  };
}
