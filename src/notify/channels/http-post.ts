import { DeliveryFailure } from './channel.js';

const CAUSES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (DNS)',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate not trusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate not trusted',
  UND_ERR_SOCKET: 'connection closed',
};

function causeOf(e: unknown): string {
  let cur: unknown = e;
  for (let depth = 0; depth < 4 && cur instanceof Error; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return `${CAUSES[code] ?? 'network error'} (${code})`;
    cur = (cur as { cause?: unknown }).cause;
  }
  return 'network error';
}

/**
 * POSTs a JSON body and requires a 2xx answer. Redirects are not followed (a receiver moved elsewhere is a
 * configuration to fix, and the body carries an acknowledgement token). The receiver's answer body is never
 * kept: it could echo what was sent.
 */
export async function postJson(
  url: string,
  body: string,
  headers: Record<string, string>,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'Stint-Notifier/1', ...headers },
      body,
      redirect: 'manual',
      signal,
    });
  } catch (e) {
    if (signal.aborted) throw new DeliveryFailure(`no answer within ${Math.round(timeoutMs / 1000)}s`);
    throw new DeliveryFailure(causeOf(e));
  }
  // Drained so the connection is reused; what it says is not kept.
  await res.arrayBuffer().catch(() => undefined);
  if (res.status >= 200 && res.status < 300) return;
  if (res.status >= 300 && res.status < 400) {
    throw new DeliveryFailure(`HTTP ${res.status}: the receiver redirects, which is not followed`);
  }
  throw new DeliveryFailure(`HTTP ${res.status}`);
}
