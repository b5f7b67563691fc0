import type { KeyObject } from 'node:crypto';
import { sign } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Client } from 'ssh2';
import { string } from '../../providers/ssh/wire.js';

/**
 * ssh2 (1.17, pinned) cannot log in with an OpenSSH certificate: it offers a key's own blob and names the
 * signature after the key's algorithm, where a certificate login offers the certificate blob under
 * `…-cert-v01@openssh.com` and names the signature after the plain algorithm (PROTOCOL.certkeys). The feature was
 * asked for in mscdex/ssh2#551 (open since 2017) and PR #808 (never merged). So the proxy sends that one message
 * itself: RFC 4252 §7's signed `publickey` request, on ssh2's own transport after its key exchange, through the
 * three internals of the pinned version it needs (the session id, the packet writer, the auth queue). The client is
 * told to try `none`, and its `none` sender is replaced by this one for that connection: ssh2's handling of the
 * answer (success, or failure and "all methods failed") is unchanged. A change in ssh2 breaks the login through the
 * proxy loudly (test/recording), never silently.
 */

const require = createRequire(import.meta.url);
const { sendPacket } = require('ssh2/lib/protocol/utils.js') as {
  sendPacket(proto: unknown, packet: Buffer): void;
};

const USERAUTH_REQUEST = 50;

interface ProtocolInternals {
  _kex: { sessionID: Buffer };
  _packetRW: { write: { alloc(n: number): Buffer; allocStart: number; finalize(p: Buffer): Buffer } };
  _authsQueue: string[];
  authNone(username: string): void;
}

export interface CertificateLogin {
  username: string;
  /** `ssh-ed25519-cert-v01@openssh.com`. */
  certType: string;
  certBlob: Buffer;
  /** The certified key's private half (Ed25519: the proxy makes one per session). */
  privateKey: KeyObject;
}

/** ssh2's connect options for a certificate login: call `installCertificateLogin` right after `connect()`. */
export function certificateAuthHandler(username: string) {
  let asked = false;
  return (_methods: unknown, _partial: unknown, next: (method: unknown) => void) => {
    if (asked) return next(false);
    asked = true;
    next({ type: 'none', username });
  };
}

/** Makes the connection's one `none` attempt a certificate login instead. */
export function installCertificateLogin(client: Client, login: CertificateLogin): void {
  const proto = (client as unknown as { _protocol: ProtocolInternals })._protocol;
  if (!proto || typeof proto.authNone !== 'function' || !proto._packetRW?.write) {
    throw new Error(
      'the pinned ssh2 changed: its protocol internals are not where the certificate login expects',
    );
  }
  proto.authNone = () => {
    const body = Buffer.concat([
      Buffer.from([USERAUTH_REQUEST]),
      string(login.username),
      string('ssh-connection'),
      string('publickey'),
      Buffer.from([1]),
      string(login.certType),
      string(login.certBlob),
    ]);
    const signature = sign(null, Buffer.concat([string(proto._kex.sessionID), body]), login.privateKey);
    const payload = Buffer.concat([body, string(Buffer.concat([string('ssh-ed25519'), string(signature)]))]);
    const writer = proto._packetRW.write;
    const packet = writer.alloc(payload.length);
    packet.set(payload, writer.allocStart);
    proto._authsQueue.push('publickey');
    sendPacket(proto, writer.finalize(packet));
  };
}
