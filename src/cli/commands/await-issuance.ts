import type { RequestView } from '../../requests/request-types.js';
import type { StintApi } from '../api.js';

/** Long enough for a slow target and a retry after a lapsed claim; short enough that a script is not stuck. */
export const ISSUANCE_WAIT_MS = 30_000;

/**
 * An approval answers as soon as it is committed (`approved`); the server issues the credential right after.
 * Polls the request until issuance ends (`active`, `failed`, or ended meanwhile) or `timeoutMs` passes, so
 * `stint approve` and `stint request` still end on the grant's real state. Returns the last view seen.
 */
export async function awaitIssuance(
  api: Pick<StintApi, 'getRequest'>,
  request: RequestView,
  timeoutMs = ISSUANCE_WAIT_MS,
): Promise<RequestView> {
  const deadline = Date.now() + timeoutMs;
  let current = request;
  let delayMs = 50;
  while (current.state === 'approved' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, Math.min(delayMs, Math.max(0, deadline - Date.now()))));
    delayMs = Math.min(delayMs * 2, 1000);
    current = await api.getRequest(current.id);
  }
  return current;
}

/** Said when the wait ran out (or was skipped) with issuance still under way. */
export function issuingLine(r: RequestView): string | null {
  return r.state === 'approved' ? `issuing the credential; see: stint show ${r.id}` : null;
}
