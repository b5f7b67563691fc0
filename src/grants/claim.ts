/**
 * How long an issuance claim holds before another server may take the issuance over: short, so a server that
 * dies while issuing is replaced within seconds. The issuing server renews it every CLAIM_RENEW_MS for as long as
 * the target call runs (connect and statement timeouts, a queue at the target), and fences its activation on it.
 */
export const CLAIM_MS = 3_000;
export const CLAIM_RENEW_MS = 1_000;
