/**
 * Last line of defence: audit details are built from non-secret facts, but a key that smells of a secret is
 * replaced wherever it appears, so a future caller's mistake cannot put a password into a trail kept for years.
 */
const SECRET_KEY = /pass(word)?|secret|token|credential|private|api[-_]?key|^url$|connection(string)?$/i;

export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(v);
    return out;
  }
  return value;
}
