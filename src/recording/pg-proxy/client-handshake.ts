import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { type PgGrant, PgLoginRefused } from './pg-login.js';
import type { PgProxyDeps } from './pg-proxy-context.js';
import { mockVerifier, ScramFailed, ScramServer } from './scram.js';
import {
  BodyReader,
  backend,
  type FirstMessage,
  Framer,
  firstMessageLength,
  MalformedPacket,
  readFirstMessage,
} from './wire.js';

/** Bytes from one socket, read as the start-up needs them (untyped first messages, then typed ones). */
class Inbox {
  private buf: Buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  private readonly framer = new Framer();
  private readonly onData = (d: Buffer) => {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    this.wake?.();
  };
  private readonly onEnd = () => {
    this.failure ??= new MalformedPacket('the client left during the start-up');
    this.wake?.();
  };

  constructor(readonly socket: Socket) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
  }

  private async more(): Promise<void> {
    if (this.failure) throw this.failure;
    await new Promise<void>((r) => {
      this.wake = r;
    });
    this.wake = null;
    if (this.failure) throw this.failure;
  }

  async untyped(): Promise<FirstMessage> {
    for (;;) {
      const length = firstMessageLength(this.buf);
      if (length !== null) {
        const packet = this.buf.subarray(0, length);
        this.buf = this.buf.subarray(length);
        return readFirstMessage(packet);
      }
      await this.more();
    }
  }

  async typed(): Promise<{ type: number; body: Buffer }> {
    for (;;) {
      const { frames } = this.framer.push(this.buf);
      this.buf = Buffer.alloc(0);
      const [first, ...rest] = frames;
      if (rest.length > 0) throw new MalformedPacket('the client sent ahead during authentication');
      if (first) return first;
      await this.more();
    }
  }

  /** Stops reading; what the client sent beyond the start-up is a protocol violation at this point. */
  detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    // Held until the session bridges: bytes read with nobody listening would be lost.
    this.socket.pause();
    if (this.buf.length > 0) throw new MalformedPacket('the client sent ahead during the start-up');
  }
}

export type Handshake =
  | { kind: 'cancel'; pid: number; secret: Buffer }
  | { kind: 'session'; socket: TLSSocket; grant: PgGrant; params: Map<string, string> }
  | { kind: 'refused' };

/** Refusals the client is told about in so many words (the rest learn 28P01, as for a wrong secret). */
function fatal(socket: Socket, code: string, text: string): Handshake {
  socket.end(backend.error('FATAL', code, text));
  return { kind: 'refused' };
}

/**
 * The client's side of the start-up, before anything reaches the target: TLS (the proxy takes no other), the
 * start-up parameters, then SCRAM-SHA-256 against the grant's proxy secret. A user with no live grant goes through
 * the same exchange against a mock verifier and is refused at its end, like a wrong secret.
 */
export async function clientHandshake(
  deps: PgProxyDeps,
  raw: Socket,
  onRefused: (user: string, reason: string, requestId: string | null) => void,
): Promise<Handshake> {
  let inbox = new Inbox(raw);
  let first = await inbox.untyped();
  if (first.kind === 'gssenc') {
    raw.write('N');
    first = await inbox.untyped();
  }
  if (first.kind === 'cancel') {
    inbox.detach();
    return first;
  }
  if (first.kind !== 'ssl') {
    return fatal(raw, '28000', 'the Stint proxy takes TLS connections only (sslmode=require)');
  }
  inbox.detach();
  raw.write('S');
  const socket = new TLSSocket(raw, { isServer: true, secureContext: deps.tls.context });
  // A failed TLS handshake (garbage, a client refusing the certificate) closes it; the close ends the start-up.
  socket.on('error', (e) => deps.logger.warn({ err: e.message }, 'pg proxy: TLS error'));
  inbox = new Inbox(socket);
  const startup = await inbox.untyped();
  if (startup.kind === 'cancel') {
    inbox.detach();
    return startup;
  }
  if (startup.kind !== 'startup') throw new MalformedPacket('a second TLS or GSS request');
  const { params } = startup;
  const user = params.get('user');
  if (!user) return fatal(socket, '28000', 'no PostgreSQL user name specified in the start-up packet');
  const unknown = [...params.keys()].filter((k) => k.startsWith('_pq_.'));
  if ((startup.version & 0xffff) > 0 || unknown.length > 0) {
    // 3.0 only: the client carries on with what it asked for that the proxy does not speak turned down.
    socket.write(backend.negotiate(0, unknown));
    for (const k of unknown) params.delete(k);
  }
  const replication = params.get('replication');
  if (replication !== undefined && !['false', 'off', 'no', '0'].includes(replication.toLowerCase())) {
    return fatal(socket, '28000', 'replication connections are not carried by the Stint proxy');
  }

  let grant: PgGrant | null = null;
  let refusal: PgLoginRefused | null = null;
  try {
    grant = await deps.findGrant(user);
  } catch (e) {
    if (!(e instanceof PgLoginRefused)) {
      deps.logger.error({ err: (e as Error).message }, 'pg proxy: grants cannot be read');
      return fatal(socket, '57P03', 'Stint cannot check grants now; try again');
    }
    refusal = e;
  }
  const scram = new ScramServer(grant?.verifier ?? mockVerifier(deps.mockKey, user), deps.tls.binding);
  socket.write(backend.sasl(scram.mechanisms()));
  try {
    const initial = await inbox.typed();
    if (initial.type !== 0x70) throw new MalformedPacket('expected SASLInitialResponse');
    const r = new BodyReader(initial.body, 'SASLInitialResponse');
    const mechanism = r.cstring();
    const length = r.int32();
    const data = r.bytes(length).toString('utf8');
    r.end();
    socket.write(backend.saslContinue(scram.first(mechanism, data)));
    const response = await inbox.typed();
    if (response.type !== 0x70) throw new MalformedPacket('expected SASLResponse');
    const serverFinal = scram.final(response.body.toString('utf8'));
    if (!grant) throw refusal ?? new PgLoginRefused('no grant');
    inbox.detach();
    socket.write(backend.saslFinal(serverFinal));
    return { kind: 'session', socket, grant, params };
  } catch (e) {
    if (e instanceof MalformedPacket) throw e;
    // Without a grant the mock exchange fails as a wrong secret would; the log says why it was refused.
    const why = !grant && refusal ? refusal : (e as Error);
    const reason = why instanceof ScramFailed ? `SCRAM: ${why.message}` : why.message;
    onRefused(user, reason, why instanceof PgLoginRefused ? why.requestId : (grant?.request.id ?? null));
    return fatal(socket, '28P01', `password authentication failed for user "${user}"`);
  }
}
