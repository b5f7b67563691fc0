import { randomFillSync } from 'node:crypto';

/**
 * An event id: a UUID version 7 (RFC 9562), its first 48 bits the millisecond it was made, the rest random. Ids
 * made in time order land at the end of the store's unique index instead of at random places in it: at a
 * million events, random (v4) ids made every append touch pages all over the index.
 */
export function eventId(at = Date.now()): string {
  const b = randomFillSync(Buffer.alloc(16));
  b.writeUIntBE(at, 0, 6);
  b[6] = ((b[6] as number) & 0x0f) | 0x70;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
