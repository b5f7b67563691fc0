/**
 * Standard base64 (RFC 4648 §4, with padding), as C2SP signed-note and tlog-checkpoint use. Node's decoder
 * skips anything it does not understand, so a parser that wants one spelling per value checks the alphabet
 * and padding and that re-encoding gives the same text back (no stray low bits in the last character).
 */
const SHAPE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** The bytes, or null when `text` is not the one canonical base64 spelling of some bytes. */
export function decodeBase64Strict(text: string): Uint8Array | null {
  if (!SHAPE.test(text)) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}
