/**
 * How long an issuance claim holds: longer than any issuance (the provider's connect and statement timeouts are a
 * few seconds), so a server that dies holding a claim is replaced by another once it lapses.
 */
export const CLAIM_MS = 15_000;
