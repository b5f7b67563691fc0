import { connect as netConnect, type Socket } from 'node:net';
import { TLSSocket, connect as tlsConnect } from 'node:tls';
import { serialize } from 'pg-protocol';
import type { BackendMessage, DatabaseError } from 'pg-protocol/dist/messages.js';
import { ScramClient } from './scram.js';
import { backendDecoder, Framer } from './wire.js';

/** The target as the resource's admin connection names it; the proxy logs in there as the grant's role. */
export interface UpstreamTarget {
  host: string;
  port: number;
  /** The resource's `sslmode`: require / verify-ca / verify-full mean TLS towards the target. */
  sslmode: string | null;
}

export interface UpstreamLeg {
  socket: Socket;
  /** The target's BackendKeyData, which the client never sees (it gets the proxy's own: cancel-routing.ts). */
  pid: number;
  secret: number;
  /** ParameterStatus and notices of the start-up, whole, for the client. */
  startup: Buffer[];
  /** The transaction status of the first ReadyForQuery. */
  status: string;
}

/** The target refused the login or the start-up (database missing, too many connections…): told to the client. */
export class UpstreamRefused extends Error {
  override readonly name = 'UpstreamRefused';
  constructor(
    message: string,
    /** The target's ErrorResponse as sent, when there was one. */
    readonly frame: Buffer | null,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

const CONNECT_TIMEOUT_MS = 10_000;

function frameOf(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

async function open(target: UpstreamTarget, signal: AbortSignal): Promise<Socket> {
  const plain = netConnect({ host: target.host, port: target.port, noDelay: true });
  // Until the start-up is over: the deadline must not cut the session it let through.
  const cut = () => plain.destroy(new Error('the target did not answer in time'));
  signal.addEventListener('abort', cut, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      plain.once('error', reject);
      plain.once('connect', () => {
        plain.off('error', reject);
        resolve();
      });
    });
    if (!['require', 'verify-ca', 'verify-full'].includes(target.sslmode ?? '')) return plain;
    plain.write(serialize.requestSsl());
    const answer = await new Promise<Buffer>((resolve, reject) => {
      plain.once('data', resolve);
      plain.once('error', reject);
    });
    if (answer.length !== 1 || answer[0] !== 0x53) {
      plain.destroy();
      throw new UpstreamRefused('the target does not take TLS', null, undefined);
    }
    const secure = tlsConnect({
      socket: plain,
      servername: target.host,
      // require: encrypted, not verified (libpq's meaning); verify-ca/verify-full: against the system's CAs.
      rejectUnauthorized: target.sslmode !== 'require',
      ...(target.sslmode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    return secure;
  } finally {
    signal.removeEventListener('abort', cut);
  }
}

/**
 * Logs in to the target as the grant's role with the password Stint keeps (SCRAM-SHA-256, the server's signature
 * checked), and reads the start-up up to the first ReadyForQuery. Nothing of the client's reaches the target before
 * this: only the start-up parameters the proxy chose to pass.
 */
export async function openUpstream(
  target: UpstreamTarget,
  params: Record<string, string>,
  password: string,
  signal: AbortSignal,
): Promise<UpstreamLeg> {
  const deadline = AbortSignal.any([signal, AbortSignal.timeout(CONNECT_TIMEOUT_MS)]);
  const socket = await open(target, deadline);
  try {
    const leg = await handshake(socket, params, password, deadline);
    // Errors from here on are the session's: it ends on the socket's close (pg-session.ts).
    socket.on('error', () => {});
    return leg;
  } catch (e) {
    socket.destroy();
    throw e;
  }
}

function handshake(
  socket: Socket,
  params: Record<string, string>,
  password: string,
  signal: AbortSignal,
): Promise<UpstreamLeg> {
  const framer = new Framer();
  const decode = backendDecoder();
  const scram = new ScramClient(password);
  const startup: Buffer[] = [];
  let pid = 0;
  let secret = 0;
  // A cleartext password only where the wire is encrypted.
  const encrypted = socket instanceof TLSSocket;

  return new Promise<UpstreamLeg>((resolve, reject) => {
    const done = (e: Error | null, leg?: UpstreamLeg) => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (e) reject(e);
      else resolve(leg as UpstreamLeg);
    };
    const onError = (e: Error) => done(new UpstreamRefused(`the target: ${e.message}`, null, undefined));
    const onClose = () => done(new UpstreamRefused('the target closed the connection', null, undefined));
    const onAbort = () => done(new UpstreamRefused('the target did not answer in time', null, undefined));
    const step = async (type: number, body: Buffer): Promise<boolean> => {
      const m = decode(type, body) as BackendMessage & Record<string, unknown>;
      switch (m.name) {
        case 'authenticationSASL':
          if (!(m.mechanisms as string[]).includes('SCRAM-SHA-256'))
            throw new UpstreamRefused('the target offers no SCRAM-SHA-256', null, undefined);
          socket.write(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', scram.first()));
          return false;
        case 'authenticationSASLContinue':
          socket.write(serialize.sendSCRAMClientFinalMessage(await scram.final(m.data as string)));
          return false;
        case 'authenticationSASLFinal':
          scram.check(m.data as string);
          return false;
        case 'authenticationCleartextPassword':
          // Only where the wire is encrypted: the role's password is the one secret the proxy must not leak.
          if (!encrypted)
            throw new UpstreamRefused('the target asks for a cleartext password', null, undefined);
          socket.write(serialize.password(password));
          return false;
        case 'authenticationMD5Password':
          throw new UpstreamRefused(
            'the target asks for md5 (Stint roles have SCRAM verifiers)',
            null,
            undefined,
          );
        case 'authenticationOk':
          return false;
        case 'backendKeyData':
          pid = m.processID as number;
          secret = m.secretKey as number;
          return false;
        case 'parameterStatus':
        case 'notice':
          startup.push(frameOf(type, body));
          return false;
        case 'error': {
          const err = m as unknown as DatabaseError;
          throw new UpstreamRefused(`the target refused: ${err.message}`, frameOf(type, body), err.code);
        }
        case 'readyForQuery':
          done(null, { socket, pid, secret, startup, status: m.status as string });
          return true;
        default:
          return false;
      }
    };
    let chain = Promise.resolve(false);
    const onData = (chunk: Buffer) => {
      let frames: { type: number; body: Buffer }[];
      try {
        frames = framer.push(chunk).frames;
      } catch (e) {
        return done(new UpstreamRefused(`the target sent ${(e as Error).message}`, null, undefined));
      }
      for (const f of frames) {
        chain = chain.then((finished) => (finished ? true : step(f.type, f.body)));
      }
      chain = chain.catch((e: unknown) => {
        done(e instanceof UpstreamRefused ? e : new UpstreamRefused((e as Error).message, null, undefined));
        return true;
      });
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.write(serialize.startup(params));
  });
}
