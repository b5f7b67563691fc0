import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import { Parser } from 'pg-protocol/dist/parser.js';

/**
 * What pg-protocol does not do: read the *frontend* side of the PostgreSQL protocol (the proxy is a server towards
 * the client) and write the backend messages the proxy answers with itself. Backend messages the upstream sends are
 * decoded by pg-protocol's own Parser (`decodeBackend`).
 */

/** A message the proxy will not carry: the session is closed, with this as the logged reason. */
export class MalformedPacket extends Error {
  override readonly name = 'MalformedPacket';
}

/** The largest message accepted from a client: a bound on what one session may make the proxy buffer. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export const SSL_REQUEST = 80_877_103;
export const GSSENC_REQUEST = 80_877_104;
export const CANCEL_REQUEST = 80_877_102;
export const PROTOCOL_3 = 196_608;

/**
 * Cuts a byte stream into whole messages (type byte + int32 length) without copying what arrives whole: `push`
 * answers the complete messages in order, as views of the chunk, and the run of bytes they span, for forwarding
 * as one write. A partial message is kept (its chunks concatenated once, when complete).
 */
export class Framer {
  private parts: Buffer[] = [];
  private held = 0;
  /** The whole length of the held message, once its header is in (0 until then). */
  private need = 0;

  push(chunk: Buffer): { frames: { type: number; body: Buffer }[]; whole: Buffer } {
    let buf = chunk;
    if (this.held > 0) {
      this.parts.push(chunk);
      this.held += chunk.length;
      if (this.need === 0) {
        if (this.held < 5) return { frames: [], whole: EMPTY };
        this.need = 1 + checked(Buffer.concat(this.parts, 5).readInt32BE(1));
      }
      if (this.held < this.need) return { frames: [], whole: EMPTY };
      buf = Buffer.concat(this.parts, this.held);
      this.parts = [];
      this.held = 0;
      this.need = 0;
    }
    const frames: { type: number; body: Buffer }[] = [];
    let at = 0;
    while (buf.length - at >= 5) {
      const length = checked(buf.readInt32BE(at + 1));
      if (buf.length - at < 1 + length) break;
      frames.push({ type: buf[at] as number, body: buf.subarray(at + 5, at + 1 + length) });
      at += 1 + length;
    }
    if (at < buf.length) {
      this.parts = [buf.subarray(at)];
      this.held = buf.length - at;
      this.need = this.held >= 5 ? 1 + checked(buf.readInt32BE(at + 1)) : 0;
    }
    return { frames, whole: buf.subarray(0, at) };
  }
}

function checked(length: number): number {
  if (length < 4 || length > MAX_MESSAGE_BYTES)
    throw new MalformedPacket(`message length ${length} out of bounds`);
  return length;
}

const EMPTY = Buffer.alloc(0);

/** Reads the fields of one message body; any read past its end or a missing terminator is a malformed packet. */
export class BodyReader {
  private at = 0;
  constructor(
    private readonly body: Buffer,
    private readonly what: string,
  ) {}

  private need(n: number): void {
    if (n < 0 || this.at + n > this.body.length) throw new MalformedPacket(`${this.what}: truncated`);
  }
  byte(): number {
    this.need(1);
    return this.body[this.at++] as number;
  }
  int16(): number {
    this.need(2);
    const v = this.body.readInt16BE(this.at);
    this.at += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.body.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.body.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  cstring(): string {
    const end = this.body.indexOf(0, this.at);
    if (end === -1) throw new MalformedPacket(`${this.what}: unterminated string`);
    const v = this.body.toString('utf8', this.at, end);
    this.at = end + 1;
    return v;
  }
  end(): void {
    if (this.at !== this.body.length) throw new MalformedPacket(`${this.what}: trailing bytes`);
  }
}

/** The untyped first message of a connection: SSLRequest, GSSENCRequest, CancelRequest or StartupMessage. */
export type FirstMessage =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; pid: number; secret: Buffer }
  | { kind: 'startup'; version: number; params: Map<string, string> };

/** Length of the untyped first message when `buf` holds it whole; null while it does not. */
export function firstMessageLength(buf: Buffer): number | null {
  if (buf.length < 4) return null;
  const length = buf.readInt32BE(0);
  if (length < 8 || length > 10_000)
    throw new MalformedPacket(`startup packet length ${length} out of bounds`);
  return buf.length >= length ? length : null;
}

export function readFirstMessage(packet: Buffer): FirstMessage {
  const r = new BodyReader(packet.subarray(4), 'startup packet');
  const code = r.int32();
  if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
    r.end();
    return { kind: code === SSL_REQUEST ? 'ssl' : 'gssenc' };
  }
  if (code === CANCEL_REQUEST) {
    const pid = r.int32();
    const secret = Buffer.from(r.bytes(packet.length - 12));
    r.end();
    return { kind: 'cancel', pid, secret };
  }
  if (code >> 16 !== 3)
    throw new MalformedPacket(`unsupported protocol version ${code >> 16}.${code & 0xffff}`);
  const params = new Map<string, string>();
  for (;;) {
    const name = r.cstring();
    if (name === '') break;
    params.set(name, r.cstring());
  }
  r.end();
  return { kind: 'startup', version: code, params };
}

function message(type: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out.write(type, 0, 'latin1');
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

const int32 = (n: number) => {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(n);
  return b;
};
const cstr = (s: string) => Buffer.from(`${s}\0`, 'utf8');

/** The backend messages the proxy writes itself. */
export const backend = {
  authOk: () => message('R', int32(0)),
  sasl: (mechanisms: string[]) =>
    message('R', Buffer.concat([int32(10), ...mechanisms.map(cstr), Buffer.from([0])])),
  saslContinue: (data: string) => message('R', Buffer.concat([int32(11), Buffer.from(data)])),
  saslFinal: (data: string) => message('R', Buffer.concat([int32(12), Buffer.from(data)])),
  keyData: (pid: number, secret: Buffer) => message('K', Buffer.concat([int32(pid), secret])),
  parameterStatus: (name: string, value: string) => message('S', Buffer.concat([cstr(name), cstr(value)])),
  readyForQuery: (status: string) => message('Z', Buffer.from(status, 'latin1')),
  /** NegotiateProtocolVersion: 3.0, and the `_pq_.` options this proxy does not know. */
  negotiate: (minor: number, unknown: string[]) =>
    message('v', Buffer.concat([int32(minor), int32(unknown.length), ...unknown.map(cstr)])),
  /** ErrorResponse: severity (localised and not), SQLSTATE, message. */
  error: (severity: 'ERROR' | 'FATAL', code: string, text: string) =>
    message(
      'E',
      Buffer.concat([
        Buffer.from('S'),
        cstr(severity),
        Buffer.from('V'),
        cstr(severity),
        Buffer.from('C'),
        cstr(code),
        Buffer.from('M'),
        cstr(text),
        Buffer.from([0]),
      ]),
    ),
};

/**
 * Decodes one whole backend message (type, body) with pg-protocol's Parser: the proxy calls it only for the few
 * it reads (authentication, key data, command complete, errors, ready), never for rows.
 */
export function backendDecoder(): (type: number, body: Buffer) => BackendMessage {
  const parser = new Parser();
  return (type, body) => {
    let decoded: BackendMessage | undefined;
    const frame = Buffer.allocUnsafe(5 + body.length);
    frame[0] = type;
    frame.writeInt32BE(4 + body.length, 1);
    body.copy(frame, 5);
    parser.parse(frame, (m) => {
      decoded = m;
    });
    if (!decoded) throw new MalformedPacket(`backend message ${String.fromCharCode(type)} not decoded`);
    return decoded;
  };
}
