import { WireReader } from '../../providers/ssh/wire.js';

/** One file operation seen in an SFTP session, with how the server answered it. */
export interface SftpOperation {
  op:
    | 'open'
    | 'close'
    | 'remove'
    | 'rename'
    | 'mkdir'
    | 'rmdir'
    | 'setstat'
    | 'symlink'
    | 'hardlink'
    | 'opendir';
  path: string;
  /** The second path of rename, symlink and hardlink (the new name, the link's target). */
  to?: string;
  /** For open: what the client asked for (read, write, append, create, truncate, exclusive). */
  mode?: string[];
  /** For close: what went through the handle. */
  bytesRead?: number;
  bytesWritten?: number;
  /** `ok`, or the SFTP status name the server answered. */
  result: string;
}

/** OpenSSH's limit on an SFTP message (sftp-common.h SFTP_MAX_MSG_LENGTH); anything larger is malformed. */
const MAX_PACKET = 256 * 1024 + 1024;

const T = {
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  RENAME: 18,
  SYMLINK: 20,
  EXTENDED: 200,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
} as const;

const STATUS = [
  'ok',
  'eof',
  'no-such-file',
  'permission-denied',
  'failure',
  'bad-message',
  'no-connection',
  'connection-lost',
  'unsupported',
];

const FLAGS: [number, string][] = [
  [0x01, 'read'],
  [0x02, 'write'],
  [0x04, 'append'],
  [0x08, 'create'],
  [0x10, 'truncate'],
  [0x20, 'exclusive'],
];

/** Splits one direction's byte stream into SFTP packets; throws on a length no SFTP packet has. */
class Framer {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer, each: (packet: Buffer) => void): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 4) {
      const length = this.buf.readUInt32BE(0);
      if (length < 1 || length > MAX_PACKET) throw new Error(`an SFTP packet of ${length} bytes`);
      if (this.buf.length < 4 + length) return;
      each(this.buf.subarray(4, 4 + length));
      this.buf = this.buf.subarray(4 + length);
    }
  }
}

interface Pending {
  op: SftpOperation['op'] | 'close-handle';
  path: string;
  to?: string;
  mode?: string[];
  handle?: string;
}

/**
 * Reads an SFTP session as it passes through the proxy (the bytes are forwarded unchanged; this only watches),
 * and reports each file operation once the server has answered it: opens with their mode, closes with the bytes
 * read and written through the handle, removals, renames, directories, attribute changes, links. Reads and writes
 * are summed per handle rather than reported one by one (a download is one open and one close, not thousands of
 * events). A malformed packet throws, and the proxy closes that channel.
 */
export class SftpTap {
  private readonly up = new Framer();
  private readonly down = new Framer();
  private readonly pending = new Map<number, Pending>();
  private readonly handles = new Map<string, { path: string; read: number; written: number }>();
  /** READ requests waiting for their answer, by id, with the handle they read. */
  private readonly reads = new Map<number, { read: number } | null>();

  constructor(private readonly report: (op: SftpOperation) => void) {}

  /** Client to server. */
  request(chunk: Buffer): void {
    this.up.push(chunk, (p) => this.onRequest(p));
  }

  /** Server to client. */
  response(chunk: Buffer): void {
    this.down.push(chunk, (p) => this.onResponse(p));
  }

  private onRequest(packet: Buffer): void {
    const r = new WireReader(packet);
    const type = r.u8();
    if (type === 1) return; // INIT
    const id = r.u32();
    switch (type) {
      case T.OPEN: {
        const path = r.text();
        const flags = r.u32();
        this.pending.set(id, {
          op: 'open',
          path,
          mode: FLAGS.filter(([bit]) => flags & bit).map(([, n]) => n),
        });
        return;
      }
      case T.OPENDIR:
        this.pending.set(id, { op: 'opendir', path: r.text() });
        return;
      case T.CLOSE: {
        const handle = r.bytes().toString('hex');
        this.pending.set(id, { op: 'close-handle', path: this.handles.get(handle)?.path ?? '', handle });
        return;
      }
      case T.READ: {
        // Counted from the DATA answer: what the server actually sent.
        this.reads.set(id, this.handles.get(r.bytes().toString('hex')) ?? null);
        return;
      }
      case T.WRITE: {
        const h = this.handles.get(r.bytes().toString('hex'));
        r.u64();
        if (h) h.written += r.u32();
        return;
      }
      case T.REMOVE:
        this.pending.set(id, { op: 'remove', path: r.text() });
        return;
      case T.MKDIR:
        this.pending.set(id, { op: 'mkdir', path: r.text() });
        return;
      case T.RMDIR:
        this.pending.set(id, { op: 'rmdir', path: r.text() });
        return;
      case T.SETSTAT:
        this.pending.set(id, { op: 'setstat', path: r.text() });
        return;
      case T.FSETSTAT: {
        const h = this.handles.get(r.bytes().toString('hex'));
        this.pending.set(id, { op: 'setstat', path: h?.path ?? '' });
        return;
      }
      case T.RENAME: {
        const path = r.text();
        this.pending.set(id, { op: 'rename', path, to: r.text() });
        return;
      }
      case T.SYMLINK: {
        // OpenSSH sends (target, link), reversed from the draft; report both as given.
        const path = r.text();
        this.pending.set(id, { op: 'symlink', path, to: r.text() });
        return;
      }
      case T.EXTENDED: {
        const name = r.text();
        if (name === 'posix-rename@openssh.com') {
          const path = r.text();
          this.pending.set(id, { op: 'rename', path, to: r.text() });
        } else if (name === 'hardlink@openssh.com') {
          const path = r.text();
          this.pending.set(id, { op: 'hardlink', path, to: r.text() });
        }
        return;
      }
      default:
        return;
    }
  }

  private onResponse(packet: Buffer): void {
    const r = new WireReader(packet);
    const type = r.u8();
    if (type === 2) return; // VERSION
    const id = r.u32();
    if (this.reads.has(id)) {
      const h = this.reads.get(id);
      this.reads.delete(id);
      if (type === T.DATA && h) h.read += r.bytes().length;
      return;
    }
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (type === T.HANDLE) {
      const handle = r.bytes().toString('hex');
      if (p.op === 'open' || p.op === 'opendir') {
        this.handles.set(handle, { path: p.path, read: 0, written: 0 });
        this.report({ op: p.op, path: p.path, ...(p.mode ? { mode: p.mode } : {}), result: 'ok' });
      }
      return;
    }
    if (type !== T.STATUS) return;
    const code = r.u32();
    const result = STATUS[code] ?? `status-${code}`;
    if (p.op === 'close-handle') {
      const h = p.handle ? this.handles.get(p.handle) : undefined;
      if (p.handle) this.handles.delete(p.handle);
      if (h) this.report({ op: 'close', path: h.path, bytesRead: h.read, bytesWritten: h.written, result });
      return;
    }
    this.report({
      op: p.op,
      path: p.path,
      ...(p.to !== undefined ? { to: p.to } : {}),
      ...(p.mode ? { mode: p.mode } : {}),
      result,
    });
  }
}
