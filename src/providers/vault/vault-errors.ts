import { type ProviderFailureClass, StintError } from '../../domain/errors.js';
import { SOCKET_ERROR_CODES } from '../../socket-errors.js';
import { scrubText } from '../scrub.js';

/** Vault answered with an error status: its `errors` list, as Vault wrote them. */
export class VaultResponseError extends Error {
  override readonly name = 'VaultResponseError';
  constructor(
    readonly status: number,
    readonly errors: readonly string[],
    /** The API path called, e.g. `sys/leases/revoke/…`: named in messages, never a secret. */
    readonly path: string,
  ) {
    super(`HTTP ${status} on ${path}: ${errors.join('; ') || 'no message'}`);
  }
}

/**
 * A lease or token Vault no longer knows: revoked, expired, or never created. Vault answers `sys/leases/revoke`
 * for an unknown lease with 204, but lookups, renewals, OpenBao and proxies in front of Vault say 400 `invalid
 * lease`/`lease not found`, 400 `invalid accessor`/`token not found`, or 404: each means access is gone.
 */
export function isMissing(err: unknown): boolean {
  if (!(err instanceof VaultResponseError)) return false;
  // A path nothing is mounted at (a wrong mount or namespace) is a 404 too, but says so: that is no answer about
  // the lease, and must never read as "already gone".
  if (err.status === 404) return !err.errors.some((e) => /no handler for route|unsupported path/i.test(e));
  return (
    err.status === 400 &&
    err.errors.some((e) =>
      /invalid lease|lease not found|invalid accessor|token not found|bad token/i.test(e),
    )
  );
}

/** Vault refused a check-and-set write: the marker changed (or appeared) since it was read. */
export function isCasMismatch(err: unknown): boolean {
  return (
    err instanceof VaultResponseError &&
    err.status === 400 &&
    err.errors.some((e) => /check-and-set|cas/i.test(e))
  );
}

function causeCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e !== null && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * What kind of failure it is, for alerts: Stint's token refused (`auth`), a path its policy does not allow
 * (`privilege`), Vault sealed or out of reach (`unreachable`), a standby or rate limit (`transient`).
 */
export function classify(err: unknown): ProviderFailureClass {
  if (err instanceof VaultResponseError) {
    const text = err.errors.join(' ');
    if (err.status === 401 || /invalid token|token is expired|bad token/i.test(text)) return 'auth';
    if (err.status === 403) return 'privilege';
    if (err.status === 503) return 'unreachable';
    if (err.status === 429 || err.status >= 500) return 'transient';
    return 'unknown';
  }
  const code = causeCode(err);
  if (code !== undefined && (SOCKET_ERROR_CODES.has(code) || code.startsWith('UND_ERR')))
    return 'unreachable';
  if (err instanceof TypeError && /fetch failed/.test(err.message)) return 'unreachable';
  return 'unknown';
}

/**
 * A failure as callers see it: what was being done and Vault's own message, with this call's runtime secrets
 * (an issuing token, a login token) removed. The wrapper removes the configured ones.
 */
export function providerError(
  resourceId: string,
  action: string,
  err: unknown,
  secrets: readonly string[],
): StintError {
  if (err instanceof StintError) return err;
  const raw = err instanceof Error ? err.message : String(err);
  const code = causeCode(err);
  const suffix = code && !(err instanceof VaultResponseError) && !raw.includes(code) ? ` (${code})` : '';
  return new StintError(
    'PROVIDER_ERROR',
    `vault target ${resourceId}: ${action} failed: ${scrubText(raw, secrets)}${suffix}`,
    { resource: resourceId, class: classify(err) },
  );
}

/** Stint will not do it, and no retry changes that: a misconfigured engine, a name it does not own. */
export function refusal(resourceId: string, message: string, permanent = false): StintError {
  return new StintError('PROVIDER_ERROR', `vault target ${resourceId}: ${message}`, {
    resource: resourceId,
    class: 'refused',
    ...(permanent ? { permanent: true as const } : {}),
  });
}
