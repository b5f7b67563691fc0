/**
 * A fresh Idempotency-Key for one state change: a random (version 4) UUID, RFC 9562, the form
 * `crypto.randomUUID()` gives. Its 122 random bits come from the kernel's generator (/dev/urandom) rather than
 * from node:crypto: loading node:crypto starts OpenSSL and its 18 internal modules, measured at a tenth of a
 * `stint request` that needs nothing else from it (issue 27, docs/performance.md). Where /dev/urandom cannot be
 * read (Windows, a sandbox without /dev), node:crypto gives the bytes.
 */
export function newIdempotencyKey(): string {
  const b = randomBytes16();
  b[6] = ((b[6] as number) & 0x0f) | 0x40;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const hex = Buffer.from(b).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function randomBytes16(): Uint8Array {
  const fs = process.getBuiltinModule('node:fs');
  const bytes = new Uint8Array(16);
  try {
    const fd = fs.openSync('/dev/urandom', 'r');
    try {
      let filled = 0;
      while (filled < bytes.length) {
        const n = fs.readSync(fd, bytes, filled, bytes.length - filled, null);
        if (n === 0) throw new Error('/dev/urandom ended');
        filled += n;
      }
      return bytes;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return process.getBuiltinModule('node:crypto').getRandomValues(bytes);
  }
}
