import type { CredentialProvider } from '../src/providers/provider.js';

/** What the wrapped provider saw: how long each issue took, and when each revoke was asked for. */
export interface ProviderTimes {
  /** requestId → milliseconds spent in provider.issue(). */
  issueMs: Map<string, number>;
  /** principal → wall-clock instant (Date.now()) the revoke call reached the provider. */
  revokeCalledAt: Map<string, number>;
  /** principal → milliseconds provider.revoke() took. */
  revokeMs: Map<string, number>;
}

export function createProviderTimes(): ProviderTimes {
  return { issueMs: new Map(), revokeCalledAt: new Map(), revokeMs: new Map() };
}

/**
 * The real provider, unchanged, with a stopwatch around issue and revoke: it splits approve→active into "the
 * target" and "Stint", and revocation lag into "until Stint acts" and "until the session is gone".
 */
export function timeProvider(inner: CredentialProvider, times: ProviderTimes): CredentialProvider {
  return {
    kind: inner.kind,
    principalFor: (id) => inner.principalFor(id),
    async issue(request, signal) {
      const started = performance.now();
      const issued = await inner.issue(request, signal);
      times.issueMs.set(request.requestId, performance.now() - started);
      return issued;
    },
    async revoke(request, signal) {
      const { principal } = request;
      if (!times.revokeCalledAt.has(principal)) times.revokeCalledAt.set(principal, Date.now());
      const started = performance.now();
      const result = await inner.revoke(request, signal);
      if (!times.revokeMs.has(principal)) times.revokeMs.set(principal, performance.now() - started);
      return result;
    },
    verifyRevoked: (request, signal) => inner.verifyRevoked(request, signal),
    listOwned: (request, signal) => inner.listOwned(request, signal),
    listForeign: (request, signal) => inner.listForeign(request, signal),
    ping: (request, signal) => inner.ping(request, signal),
    close: () => inner.close(),
  };
}
