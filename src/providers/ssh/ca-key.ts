import { createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';
import { fingerprintOf } from './public-key.js';
import { string, WireReader } from './wire.js';

/** An Ed25519 certificate authority's key, read from the resource's connection (an env var or a file). */
export interface CaKey {
  privateKey: KeyObject;
  /** `string "ssh-ed25519", string pk`: the signature key a certificate carries and a KRL section names. */
  publicBlob: Buffer;
  /** `ssh-ed25519 AAAA…`: what hosts put in TrustedUserCAKeys (or `@cert-authority` lines, for a host CA). */
  publicLine: string;
  fingerprint: string;
  /** Signs `data` as SSH does: `string "ssh-ed25519", string signature`. */
  sign(data: Buffer): Buffer;
}

/** Why a CA key was refused. Fixed messages: never a byte of the key. */
export class CaKeyError extends Error {
  override readonly name = 'CaKeyError';
}

const OPENSSH_ARMOR =
  /^-----BEGIN OPENSSH PRIVATE KEY-----\s+([A-Za-z0-9+/=\s]+?)\s*-----END OPENSSH PRIVATE KEY-----$/;
const MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');

/**
 * An unencrypted Ed25519 key as `ssh-keygen -t ed25519 -N ''` writes it (PROTOCOL.key), or a PKCS#8 PEM. A key
 * under a passphrase is refused with a hint: the secret store (env, mounted file) is what protects it here.
 */
export function parseCaKey(text: string): CaKey {
  const pem = text.trim();
  const armored = OPENSSH_ARMOR.exec(pem);
  const privateKey = armored?.[1]
    ? fromOpenSsh(Buffer.from(armored[1].replace(/\s+/g, ''), 'base64'))
    : fromPkcs8(pem);
  const jwk = privateKey.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.x)
    throw new CaKeyError('the CA key must be Ed25519');
  const pk = Buffer.from(jwk.x, 'base64url');
  const publicBlob = Buffer.concat([string('ssh-ed25519'), string(pk)]);
  return {
    privateKey,
    publicBlob,
    publicLine: `ssh-ed25519 ${publicBlob.toString('base64')}`,
    fingerprint: fingerprintOf(publicBlob),
    sign: (data) => Buffer.concat([string('ssh-ed25519'), string(sign(null, data, privateKey))]),
  };
}

function fromPkcs8(pem: string): KeyObject {
  if (/ENCRYPTED/.test(pem))
    throw new CaKeyError('the CA key is encrypted: give it unencrypted, from a secret store');
  if (!/^-----BEGIN PRIVATE KEY-----/.test(pem)) {
    throw new CaKeyError('the CA key must be an OpenSSH (ssh-keygen -t ed25519) or PKCS#8 PEM private key');
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new CaKeyError('the CA key cannot be read');
  }
}

function fromOpenSsh(raw: Buffer): KeyObject {
  try {
    if (!raw.subarray(0, MAGIC.length).equals(MAGIC))
      throw new CaKeyError('the CA key is not an OpenSSH key');
    const r = new WireReader(raw.subarray(MAGIC.length));
    const cipher = r.text();
    const kdf = r.text();
    r.bytes();
    if (cipher !== 'none' || kdf !== 'none') {
      throw new CaKeyError(
        'the CA key is passphrase-protected: store it unencrypted in the secret store (ssh-keygen -p -N "")',
      );
    }
    if (r.u32() !== 1) throw new CaKeyError('the CA key file must hold exactly one key');
    r.bytes();
    const priv = new WireReader(r.bytes());
    // Two copies of one random check value: unequal means a wrong passphrase, or here a damaged file.
    const check = priv.u32();
    if (priv.u32() !== check) throw new CaKeyError('the CA key cannot be read');
    if (priv.text() !== 'ssh-ed25519') throw new CaKeyError('the CA key must be Ed25519');
    const pk = priv.bytes();
    const sk = priv.bytes();
    if (pk.length !== 32 || sk.length !== 64 || !sk.subarray(32).equals(pk)) {
      throw new CaKeyError('the CA key cannot be read');
    }
    const key = createPrivateKey({
      key: {
        kty: 'OKP',
        crv: 'Ed25519',
        d: sk.subarray(0, 32).toString('base64url'),
        x: pk.toString('base64url'),
      },
      format: 'jwk',
    });
    // The half the file claims must be the one its seed makes, or certificates would name a CA nobody trusts.
    const derived = createPublicKey(key).export({ format: 'jwk' }).x;
    if (derived !== pk.toString('base64url')) throw new CaKeyError('the CA key cannot be read');
    return key;
  } catch (e) {
    if (e instanceof CaKeyError) throw e;
    throw new CaKeyError('the CA key cannot be read');
  }
}

/**
 * The forms a CA key could leak in besides the whole text: each base64 line of its armour and its seed. The
 * wrapper scrubs them all from errors and log lines.
 */
export function caKeySecrets(text: string, key: CaKey): string[] {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length >= 16 && !l.startsWith('-----'));
  const d = key.privateKey.export({ format: 'jwk' }).d ?? '';
  const seed = Buffer.from(d, 'base64url');
  return [text.trim(), ...lines, d, seed.toString('base64'), seed.toString('hex')];
}
