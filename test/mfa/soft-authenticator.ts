import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';

/**
 * A software WebAuthn authenticator: an ES256 key pair, 'none' attestation, and authenticatorData and
 * clientDataJSON assembled byte by byte as the WebAuthn Level 2 spec lays them out (§6.1, §6.5, §5.8.1), so
 * the server library sees exactly what a browser and a security key would send.
 */

const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest();

// Minimal CBOR (RFC 8949): only the shapes an attestation object and a COSE key need.
function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 256) return Buffer.from([(major << 5) | 24, n]);
  return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
}
const cborInt = (n: number) => (n >= 0 ? head(0, n) : head(1, -1 - n));
const cborBytes = (b: Uint8Array) => Buffer.concat([head(2, b.length), b]);
const cborText = (s: string) => Buffer.concat([head(3, Buffer.byteLength(s)), Buffer.from(s)]);
const cborMap = (entries: [Buffer, Buffer][]) => Buffer.concat([head(5, entries.length), ...entries.flat()]);

/** The credential public key as a COSE_Key (RFC 9053): kty EC2, alg ES256, crv P-256, x, y. */
function coseKey(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  const x = Buffer.from(jwk.x as string, 'base64url');
  const y = Buffer.from(jwk.y as string, 'base64url');
  return cborMap([
    [cborInt(1), cborInt(2)],
    [cborInt(3), cborInt(-7)],
    [cborInt(-1), cborInt(1)],
    [cborInt(-2), cborBytes(x)],
    [cborInt(-3), cborBytes(y)],
  ]);
}

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;

function counterBytes(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

export interface SoftAuthenticator {
  credentialId: string;
  counter: number;
  /** Answers navigator.credentials.create() options. */
  register(options: { challenge: string; rp: { id?: string } }, origin: string): Record<string, unknown>;
  /** Answers navigator.credentials.get() options. */
  authenticate(
    options: { challenge: string; rpId?: string },
    origin: string,
    tamper?: { signWith?: KeyObject; challenge?: string; counter?: number },
  ): Record<string, unknown>;
}

export function createSoftAuthenticator(): SoftAuthenticator {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rawId = randomBytes(32);
  const self: SoftAuthenticator = {
    credentialId: b64url(rawId),
    counter: 0,
    register(options, origin) {
      const rpId = options.rp.id ?? new URL(origin).hostname;
      const clientDataJSON = Buffer.from(
        JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin, crossOrigin: false }),
      );
      const idLength = Buffer.alloc(2);
      idLength.writeUInt16BE(rawId.length);
      const authData = Buffer.concat([
        sha256(rpId),
        Buffer.from([FLAG_UP | FLAG_UV | FLAG_AT]),
        counterBytes(self.counter),
        Buffer.alloc(16), // AAGUID: zeros, as 'none' attestation allows
        idLength,
        rawId,
        coseKey(publicKey),
      ]);
      const attestationObject = cborMap([
        [cborText('fmt'), cborText('none')],
        [cborText('attStmt'), cborMap([])],
        [cborText('authData'), cborBytes(authData)],
      ]);
      return {
        id: self.credentialId,
        rawId: self.credentialId,
        type: 'public-key',
        response: {
          clientDataJSON: b64url(clientDataJSON),
          attestationObject: b64url(attestationObject),
          transports: ['usb'],
        },
        clientExtensionResults: {},
      };
    },
    authenticate(options, origin, tamper = {}) {
      const rpId = options.rpId ?? new URL(origin).hostname;
      self.counter = tamper.counter ?? self.counter + 1;
      const clientDataJSON = Buffer.from(
        JSON.stringify({
          type: 'webauthn.get',
          challenge: tamper.challenge ?? options.challenge,
          origin,
          crossOrigin: false,
        }),
      );
      const authenticatorData = Buffer.concat([
        sha256(rpId),
        Buffer.from([FLAG_UP | FLAG_UV]),
        counterBytes(self.counter),
      ]);
      // §6.3.3: the assertion signature covers authenticatorData || SHA-256(clientDataJSON), DER-encoded ECDSA.
      const signature = sign(
        'sha256',
        Buffer.concat([authenticatorData, sha256(clientDataJSON)]),
        tamper.signWith ?? privateKey,
      );
      return {
        id: self.credentialId,
        rawId: self.credentialId,
        type: 'public-key',
        response: {
          clientDataJSON: b64url(clientDataJSON),
          authenticatorData: b64url(authenticatorData),
          signature: b64url(signature),
        },
        clientExtensionResults: {},
      };
    },
  };
  return self;
}
