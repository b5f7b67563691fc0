import type { CredentialProvider } from './provider.js';

/** The optional calls a lazily loaded provider will have: the registry checks them before it loads. */
export interface LazyShape {
  kind: string;
  principalFor(requestId: string): string;
  listStanding?: boolean;
  completeCredential?: boolean;
  removeStanding?: boolean;
}

type Call = (request: never, signal: AbortSignal) => Promise<unknown>;

/**
 * A provider whose implementation, and the SDK under it, is loaded at its first call. The cloud SDKs are most of a
 * server's resident memory (@kubernetes/client-node alone about 60 MB, the AWS clients about 40 MB), and a
 * deployment that names no resource of a kind should not carry its SDK.
 */
export function lazyProvider(shape: LazyShape, load: () => Promise<CredentialProvider>): CredentialProvider {
  let loading: Promise<CredentialProvider> | undefined;
  const get = (): Promise<CredentialProvider> => {
    // A failed load (a broken install) is tried again at the next call, not cached.
    loading ??= load().catch((err: unknown) => {
      loading = undefined;
      throw err;
    });
    return loading;
  };
  const via =
    <M extends keyof CredentialProvider>(method: M) =>
    async (request: never, signal: AbortSignal) =>
      ((await get())[method] as unknown as Call)(request, signal);
  const optional = <M extends 'listStanding' | 'completeCredential' | 'removeStanding'>(method: M) =>
    shape[method] ? { [method]: via(method) } : {};
  return {
    kind: shape.kind,
    principalFor: (requestId) => shape.principalFor(requestId),
    issue: via('issue'),
    revoke: via('revoke'),
    verifyRevoked: via('verifyRevoked'),
    listOwned: via('listOwned'),
    listForeign: via('listForeign'),
    ping: via('ping'),
    ...optional('listStanding'),
    ...optional('completeCredential'),
    ...optional('removeStanding'),
    async close() {
      if (loading) await (await loading.catch(() => undefined))?.close();
    },
  } as CredentialProvider;
}
