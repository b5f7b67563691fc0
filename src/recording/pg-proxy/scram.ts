import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) both ways: the proxy is the SCRAM server towards the client (checking the
 * grant's proxy secret against its verifier, the plaintext never held) and a SCRAM client towards the target (with
 * the role's password Stint keeps). Channel binding `tls-server-end-point` (RFC 5929) is offered when the client
 * came over TLS, so a man in the middle with another certificate cannot relay the exchange.
 */

export interface ScramVerifier {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** Why an exchange failed: logged, never told to the client (which learns only 28P01). */
export class ScramFailed extends Error {
  override readonly name = 'ScramFailed';
}

const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();
const xor = (a: Buffer, b: Buffer) => Buffer.from(a.map((v, i) => v ^ (b[i] as number)));

/** PostgreSQL's verifier text: `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. */
export function parseVerifier(text: string): ScramVerifier {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(text);
  if (!m?.[1] || !m[2] || !m[3] || !m[4]) throw new ScramFailed('not a SCRAM-SHA-256 verifier');
  return {
    iterations: Number(m[1]),
    salt: Buffer.from(m[2], 'base64'),
    storedKey: Buffer.from(m[3], 'base64'),
    serverKey: Buffer.from(m[4], 'base64'),
  };
}

/**
 * A verifier no proof matches, for a user with no live grant: the exchange runs as for any user (a salt stable per
 * name, as PostgreSQL's mock authentication does), so the answer does not tell who has a grant.
 */
export function mockVerifier(key: Buffer, user: string): ScramVerifier {
  return {
    iterations: 4096,
    salt: hmac(key, `salt:${user}`).subarray(0, 16),
    storedKey: randomBytes(32),
    serverKey: randomBytes(32),
  };
}

/** The server side of one exchange. `binding`: SHA-256 of the proxy's certificate when on TLS, else null. */
export class ScramServer {
  private clientFirstBare = '';
  private serverFirst = '';
  private gs2 = '';
  private nonce = '';

  constructor(
    private readonly verifier: ScramVerifier,
    private readonly binding: Buffer | null,
  ) {}

  mechanisms(): string[] {
    return this.binding ? ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] : ['SCRAM-SHA-256'];
  }

  /** The client-first message → the server-first message. */
  first(mechanism: string, message: string): string {
    if (!this.mechanisms().includes(mechanism)) throw new ScramFailed(`mechanism ${mechanism} not offered`);
    const m = /^(n|y|p=([A-Za-z0-9.-]+)),(a=[^,]*)?,(n=[^,]*,r=([\x21-\x2b\x2d-\x7e]+)(,.*)?)$/.exec(message);
    if (!m?.[1] || !m[4] || !m[5]) throw new ScramFailed('malformed client-first message');
    if (m[3]) throw new ScramFailed('authorization identities are not supported');
    const plus = mechanism.endsWith('-PLUS');
    if (plus !== m[1].startsWith('p='))
      throw new ScramFailed('channel binding flag does not match mechanism');
    if (plus && m[2] !== 'tls-server-end-point')
      throw new ScramFailed(`channel binding ${m[2]} not supported`);
    // `y`: the client could bind but thinks the server cannot; it can, so something stripped PLUS on the way.
    if (m[1] === 'y' && this.binding) throw new ScramFailed('channel binding downgraded (y while offered)');
    this.gs2 = `${m[1]},${m[3] ?? ''},`;
    this.clientFirstBare = m[4];
    this.nonce = m[5] + randomBytes(18).toString('base64');
    this.serverFirst = `r=${this.nonce},s=${this.verifier.salt.toString('base64')},i=${this.verifier.iterations}`;
    return this.serverFirst;
  }

  /** The client-final message → the server-final message; throws when the proof is wrong. */
  final(message: string): string {
    const at = message.lastIndexOf(',p=');
    if (at === -1) throw new ScramFailed('client-final message without proof');
    const withoutProof = message.slice(0, at);
    const proof = Buffer.from(message.slice(at + 3), 'base64');
    const m = /^c=([A-Za-z0-9+/=]+),r=([^,]+)(,.*)?$/.exec(withoutProof);
    if (!m?.[1] || !m[2]) throw new ScramFailed('malformed client-final message');
    const expected = Buffer.concat([
      Buffer.from(this.gs2),
      this.gs2.startsWith('p=') ? (this.binding ?? Buffer.alloc(0)) : Buffer.alloc(0),
    ]);
    const got = Buffer.from(m[1], 'base64');
    if (got.length !== expected.length || !timingSafeEqual(got, expected))
      throw new ScramFailed('channel binding does not match');
    if (m[2] !== this.nonce) throw new ScramFailed('nonce does not match');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const signature = hmac(this.verifier.storedKey, authMessage);
    if (proof.length !== signature.length) throw new ScramFailed('proof of the wrong length');
    const clientKey = xor(proof, signature);
    if (!timingSafeEqual(sha256(clientKey), this.verifier.storedKey)) throw new ScramFailed('wrong secret');
    return `v=${hmac(this.verifier.serverKey, authMessage).toString('base64')}`;
  }
}

/** The client side, towards the target, with the role's password. */
export class ScramClient {
  private readonly clientNonce = randomBytes(18).toString('base64');
  private clientFirstBare = '';
  private serverSignature: Buffer | null = null;

  constructor(private readonly password: string) {}

  first(): string {
    // The user is in the startup message; the server ignores this one.
    this.clientFirstBare = `n=*,r=${this.clientNonce}`;
    return `n,,${this.clientFirstBare}`;
  }

  async final(serverFirst: string): Promise<string> {
    const m = /^r=([^,]+),s=([^,]+),i=(\d+)(,.*)?$/.exec(serverFirst);
    if (!m?.[1] || !m[2] || !m[3]) throw new ScramFailed('malformed server-first message');
    if (!m[1].startsWith(this.clientNonce)) throw new ScramFailed('server nonce does not extend ours');
    const iterations = Number(m[3]);
    if (iterations < 1 || iterations > 10_000_000) throw new ScramFailed('iteration count out of bounds');
    const salted = await pbkdf2Async(this.password, Buffer.from(m[2], 'base64'), iterations, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const withoutProof = `c=biws,r=${m[1]}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const proof = xor(clientKey, hmac(sha256(clientKey), authMessage));
    this.serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** The target proves it knew the verifier too: a server that did not is not the target. */
  check(serverFinal: string): void {
    const m = /^v=([A-Za-z0-9+/=]+)/.exec(serverFinal);
    const got = m?.[1] ? Buffer.from(m[1], 'base64') : Buffer.alloc(0);
    if (!this.serverSignature || got.length !== 32 || !timingSafeEqual(got, this.serverSignature))
      throw new ScramFailed('the target’s server signature does not verify');
  }
}
