/**
 * SHA-256's compression function (FIPS 180-4 §6.2.2), for HMACs over one-block messages whose keyed pad
 * blocks are hashed once per key (the "midstates"). A leaf MAC is then three compressions in plain JavaScript,
 * with no call into the native hash and no object created per leaf: in Node that call and its objects cost more
 * than the hashing (bench/audit-trail.ts measures both). Every operation is 32-bit arithmetic with no
 * data-dependent branch or table index, like the C it mirrors; test/audit/leaf-mac.test.ts holds the output
 * to node:crypto's HMAC-SHA256 on random inputs and the FIPS 180-4 example.
 */

// biome-ignore format: the FIPS 180-4 §4.2.2 table, eight a row as printed there
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** H(0), FIPS 180-4 §5.3.3. */
const IV = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

/** A message schedule: the block's 16 words, then the 48 derived from them. */
export type Schedule = Int32Array;

export function newSchedule(): Schedule {
  return new Int32Array(64);
}

/** Loads a 64-byte block, big-endian, into w[0..15]. */
export function loadBlock(w: Schedule, bytes: Uint8Array, at = 0): void {
  for (let i = 0; i < 16; i++) {
    const o = at + 4 * i;
    w[i] =
      ((bytes[o] as number) << 24) |
      ((bytes[o + 1] as number) << 16) |
      ((bytes[o + 2] as number) << 8) |
      (bytes[o + 3] as number);
  }
}

/** Derives w[16..63] from w[0..15] (§6.2.2 step 1). */
export function expand(w: Schedule): void {
  for (let t = 16; t < 64; t++) {
    const a = w[t - 15] as number;
    const b = w[t - 2] as number;
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    w[t] = ((w[t - 16] as number) + s0 + (w[t - 7] as number) + s1) | 0;
  }
}

/** Compresses one expanded block into the state `h` (§6.2.2 steps 2–4). */
export function compress(h: Int32Array, w: Schedule): void {
  let a = h[0] as number;
  let b = h[1] as number;
  let c = h[2] as number;
  let d = h[3] as number;
  let e = h[4] as number;
  let f = h[5] as number;
  let g = h[6] as number;
  let hh = h[7] as number;
  for (let t = 0; t < 64; t++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (hh + s1 + ((e & f) ^ (~e & g)) + (K[t] as number) + (w[t] as number)) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  h[0] = ((h[0] as number) + a) | 0;
  h[1] = ((h[1] as number) + b) | 0;
  h[2] = ((h[2] as number) + c) | 0;
  h[3] = ((h[3] as number) + d) | 0;
  h[4] = ((h[4] as number) + e) | 0;
  h[5] = ((h[5] as number) + f) | 0;
  h[6] = ((h[6] as number) + g) | 0;
  h[7] = ((h[7] as number) + hh) | 0;
}

/** The state after hashing one 64-byte block from H(0): an HMAC pad block's midstate. */
export function midstate(block: Uint8Array): Int32Array {
  const h = new Int32Array(IV);
  const w = newSchedule();
  loadBlock(w, block);
  expand(w);
  compress(h, w);
  return h;
}

/**
 * The expanded padding block of a message of `bytes` bytes that ends on a block boundary (§5.1.1): 0x80, zeros,
 * the bit length. Constant for a fixed-length message, so expanded once.
 */
export function paddingBlock(bytes: number): Schedule {
  const w = newSchedule();
  w[0] = 0x80000000 | 0;
  w[14] = Math.floor((bytes * 8) / 2 ** 32);
  w[15] = (bytes * 8) | 0;
  expand(w);
  return w;
}

/** Writes the state as the 32-byte digest. */
export function digestInto(h: Int32Array, out: Uint8Array, at: number): void {
  for (let i = 0; i < 8; i++) {
    const v = h[i] as number;
    const o = at + 4 * i;
    out[o] = v >>> 24;
    out[o + 1] = v >>> 16;
    out[o + 2] = v >>> 8;
    out[o + 3] = v;
  }
}
