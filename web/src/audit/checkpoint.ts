/**
 * C2SP checkpoints (tlog-checkpoint over signed-note) read and checked in the browser: the tree size and root
 * the proof must reach, and the Ed25519 signature over that text by the log's key, with Web Crypto. No imports,
 * like rfc9162.ts, so the Node test runs it as the browser does.
 *
 *   <origin>\n<size>\n<base64 root>\n[extension lines]\n\n— <key name> base64(key ID (4 bytes) ‖ signature)\n
 */

export interface Checkpoint {
  origin: string;
  size: number;
  root: Uint8Array<ArrayBuffer>;
  /** The signed text, its final newline included. */
  text: string;
  signatures: { name: string; keyId: number; signature: Uint8Array<ArrayBuffer> }[];
}

const b64 = (text: string): Uint8Array<ArrayBuffer> | null => {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  const bin = atob(text);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
};

const keyIdOf = (bytes: Uint8Array) =>
  (((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0)) >>> 0;

/** The checkpoint in a signed note, or a sentence saying what is wrong with it. */
export function parseCheckpoint(note: string): Checkpoint | string {
  const split = note.indexOf('\n\n');
  if (split < 0) return 'the checkpoint has no signature block';
  const text = note.slice(0, split + 1);
  const [origin = '', sizeText = '', rootText = ''] = text.split('\n');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) return 'the checkpoint size is not a number';
  const root = b64(rootText);
  if (origin === '' || root?.length !== 32) return 'the checkpoint root is not a SHA-256 hash';
  const signatures: Checkpoint['signatures'] = [];
  for (const line of note.slice(split + 2).split('\n')) {
    if (line === '') continue;
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    const raw = m ? b64(m[2] as string) : null;
    if (!m || !raw || raw.length < 5) return `a signature line is malformed: ${line.slice(0, 60)}`;
    signatures.push({ name: m[1] as string, keyId: keyIdOf(raw), signature: raw.slice(4) });
  }
  return { origin, size: Number(sizeText), root, text, signatures };
}

export interface VerifierKey {
  name: string;
  keyId: number;
  publicKey: Uint8Array<ArrayBuffer>;
}

/** A vkey, `<name>+<key ID hex>+base64(0x01 ‖ 32-byte Ed25519 key)`, checked against its own key ID. */
export async function parseVkey(vkey: string): Promise<VerifierKey | string> {
  // The key's base64 may hold '+' itself: split at the first two only (names never contain one).
  const first = vkey.indexOf('+');
  const second = vkey.indexOf('+', first + 1);
  if (first < 0 || second < 0) return 'the log key is not an Ed25519 vkey';
  const name = vkey.slice(0, first);
  const idHex = vkey.slice(first + 1, second);
  const keyText = vkey.slice(second + 1);
  const raw = b64(keyText);
  if (!name || !/^[0-9a-f]{8}$/.test(idHex) || raw?.length !== 33 || raw[0] !== 0x01) {
    return 'the log key is not an Ed25519 vkey';
  }
  const publicKey = raw.slice(1);
  // Key ID = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4].
  const named = new TextEncoder().encode(name);
  const input = new Uint8Array(named.length + 2 + 32);
  input.set(named);
  input.set([0x0a, 0x01], named.length);
  input.set(publicKey, named.length + 2);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', input));
  const keyId = keyIdOf(digest);
  if (keyId !== Number.parseInt(idHex, 16)) return 'the log key does not match its own key ID';
  return { name, keyId, publicKey };
}

/** Whether the checkpoint carries a valid Ed25519 signature by `key` over its text. */
export async function signedBy(cp: Checkpoint, key: VerifierKey): Promise<boolean> {
  const sig = cp.signatures.find((s) => s.name === key.name && s.keyId === key.keyId);
  if (sig?.signature.length !== 64) return false;
  const pub = await crypto.subtle.importKey('raw', key.publicKey, { name: 'Ed25519' }, false, ['verify']);
  return crypto.subtle.verify({ name: 'Ed25519' }, pub, sig.signature, new TextEncoder().encode(cp.text));
}
