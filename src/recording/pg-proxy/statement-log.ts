import type { BackendMessage, CommandCompleteMessage, DatabaseError } from 'pg-protocol/dist/messages.js';
import { BodyReader, MalformedPacket } from './wire.js';

/** One line of the `pg-query-log` recording: a statement the client ran, with its outcome. */
export interface StatementEntry {
  /** When the proxy received it (ISO 8601). */
  at: string;
  grantId: string;
  /** The Stint user the grant is for. */
  user: string;
  /** The role it ran as on the target. */
  role: string;
  database: string;
  protocol: 'simple' | 'extended' | 'function';
  statement: string;
  /** Bound values (extended protocol): `{ bytes }` when redacted, the text (or `{ base64 }` for binary) when not. */
  parameters?: (string | null | { bytes: number } | { base64: string })[];
  durationMs: number;
  /** Rows the command reported (CommandComplete), summed over a multi-statement query; null when none did. */
  rows: number | null;
  /** The command tags as the server sent them (`SELECT 1`, `UPDATE 3`). */
  tags: string[];
  error: { code: string; message: string } | null;
}

type Pending = { kind: 'run'; entry: StatementEntry; started: number } | { kind: 'sync' };

const MAX_LOGGED_CHARS = 100_000;
const PASSWORD_LITERAL = /(\bPASSWORD\s+)(E?'(?:[^']|'')*')/gi;
/** Frontend message types after the start-up, as bytes. */
const T = Object.fromEntries([...'QPBEDCSHXFdcf'].map((c) => [c, c.charCodeAt(0)])) as Record<string, number>;

function shown(text: string): string {
  // A role's own password set in a statement is a secret like any other: not in the recording.
  const safe = text.replace(PASSWORD_LITERAL, "$1'<redacted>'");
  return safe.length > MAX_LOGGED_CHARS ? `${safe.slice(0, MAX_LOGGED_CHARS)}…[truncated]` : safe;
}

function rowsOf(tag: string): number | null {
  const last = tag.slice(tag.lastIndexOf(' ') + 1);
  return /^\d+$/.test(last) && tag.includes(' ') ? Number(last) : null;
}

/**
 * Follows one session's protocol both ways and writes an entry per statement: a simple Query (up to its
 * ReadyForQuery), each Execute of the extended protocol (up to its CommandComplete, error or suspension; what the
 * server skips after an error until Sync never ran and is not logged), each function call. Every client message is
 * checked as it is read: a malformed one throws MalformedPacket before anything of it is forwarded.
 */
export class StatementLog {
  private readonly statements = new Map<string, string>();
  private readonly portals = new Map<string, { text: string; parameters: StatementEntry['parameters'] }>();
  private readonly pending: Pending[] = [];

  constructor(
    private readonly who: Pick<StatementEntry, 'grantId' | 'user' | 'role' | 'database'>,
    private readonly redact: boolean,
    private readonly now: () => number,
    private readonly sink: (entry: StatementEntry) => void,
  ) {}

  private begin(
    protocol: StatementEntry['protocol'],
    statement: string,
    parameters?: StatementEntry['parameters'],
  ) {
    const started = performance.now();
    const entry: StatementEntry = {
      at: new Date(this.now()).toISOString(),
      ...this.who,
      protocol,
      statement,
      ...(parameters ? { parameters } : {}),
      durationMs: 0,
      rows: null,
      tags: [],
      error: null,
    };
    this.pending.push({ kind: 'run', entry, started });
  }

  private finish(p: Pending | undefined): void {
    if (p?.kind !== 'run') return;
    p.entry.durationMs = Math.round((performance.now() - p.started) * 1000) / 1000;
    this.sink(p.entry);
  }

  /** Statements sent and not yet answered. */
  inFlight(): boolean {
    return this.pending.some((p) => p.kind === 'run');
  }

  /** The session ended with statements sent and unanswered: logged as such (they may have run on the target). */
  abandon(reason: string): void {
    for (const p of this.pending.splice(0)) {
      if (p.kind !== 'run') continue;
      p.entry.error ??= { code: '', message: `no answer: the session ended (${reason})` };
      this.finish(p);
    }
  }

  /** One whole client message (type, body). */
  client(type: number, body: Buffer): void {
    switch (type) {
      case T.Q: {
        const r = new BodyReader(body, 'Query');
        const text = r.cstring();
        r.end();
        this.begin('simple', shown(text));
        return;
      }
      case T.P: {
        const r = new BodyReader(body, 'Parse');
        const name = r.cstring();
        const text = r.cstring();
        const n = r.int16();
        if (n < 0) throw new MalformedPacket('Parse: negative parameter type count');
        r.bytes(4 * n);
        r.end();
        this.statements.set(name, shown(text));
        return;
      }
      case T.B:
        this.bind(body);
        return;
      case T.E: {
        const r = new BodyReader(body, 'Execute');
        const portal = r.cstring();
        r.int32();
        r.end();
        const p = this.portals.get(portal);
        this.begin('extended', p?.text ?? '<unknown portal>', p?.parameters);
        return;
      }
      case T.D:
      case T.C: {
        const r = new BodyReader(body, type === T.D ? 'Describe' : 'Close');
        const what = r.byte();
        const name = r.cstring();
        r.end();
        if (what !== 0x53 && what !== 0x50) throw new MalformedPacket('Describe/Close: not S or P');
        if (type === T.C) (what === 0x53 ? this.statements : this.portals).delete(name);
        return;
      }
      case T.S:
        if (body.length !== 0) throw new MalformedPacket('Sync: trailing bytes');
        this.pending.push({ kind: 'sync' });
        return;
      case T.H:
      case T.X:
      case T.c:
        if (body.length !== 0) throw new MalformedPacket('Flush/Terminate/CopyDone: trailing bytes');
        return;
      case T.d:
        return;
      case T.f: {
        const r = new BodyReader(body, 'CopyFail');
        r.cstring();
        r.end();
        return;
      }
      case T.F: {
        const r = new BodyReader(body, 'FunctionCall');
        const oid = r.int32();
        this.begin('function', `<function call, oid ${oid >>> 0}>`);
        return;
      }
      default:
        throw new MalformedPacket(`unexpected message type 0x${type.toString(16)} from the client`);
    }
  }

  private bind(body: Buffer): void {
    const r = new BodyReader(body, 'Bind');
    const portal = r.cstring();
    const statement = r.cstring();
    const nFormats = r.int16();
    if (nFormats < 0) throw new MalformedPacket('Bind: negative format count');
    const formats: number[] = [];
    for (let i = 0; i < nFormats; i++) formats.push(r.int16());
    const n = r.int16();
    if (n < 0 || (nFormats > 1 && nFormats !== n))
      throw new MalformedPacket('Bind: parameter counts disagree');
    const parameters: NonNullable<StatementEntry['parameters']> = [];
    for (let i = 0; i < n; i++) {
      const length = r.int32();
      if (length < -1) throw new MalformedPacket('Bind: negative parameter length');
      if (length === -1) {
        parameters.push(null);
        continue;
      }
      const value = r.bytes(length);
      const binary = (nFormats === 1 ? formats[0] : formats[i]) === 1;
      if (this.redact) parameters.push({ bytes: length });
      else parameters.push(binary ? { base64: value.toString('base64') } : shown(value.toString('utf8')));
    }
    const nResults = r.int16();
    if (nResults < 0) throw new MalformedPacket('Bind: negative result format count');
    r.bytes(2 * nResults);
    r.end();
    const text = this.statements.get(statement) ?? '<unknown statement>';
    this.portals.set(portal, { text, parameters });
  }

  /** One whole server message; `decode` is pg-protocol's (called only for what is read here). */
  server(type: number, body: Buffer, decode: (type: number, body: Buffer) => BackendMessage): void {
    switch (type) {
      case 0x43: {
        // CommandComplete
        const head = this.pending[0];
        if (head?.kind !== 'run') return;
        const tag = (decode(type, body) as CommandCompleteMessage).text;
        head.entry.tags.push(tag);
        const rows = rowsOf(tag);
        if (rows !== null) head.entry.rows = (head.entry.rows ?? 0) + rows;
        if (head.entry.protocol === 'extended') this.finish(this.pending.shift());
        return;
      }
      case 0x49: // EmptyQueryResponse
      case 0x73: {
        // PortalSuspended
        const head = this.pending[0];
        if (head?.kind === 'run' && head.entry.protocol === 'extended') this.finish(this.pending.shift());
        return;
      }
      case 0x45: {
        const err = decode(type, body) as DatabaseError;
        const error = { code: err.code ?? '', message: err.message };
        const head = this.pending[0];
        if (head?.kind !== 'run') {
          // A Parse or Bind failed with no Execute behind it, or the server ended an idle session (FATAL).
          this.begin('extended', head ? '<parse or bind>' : '<outside any statement>');
          const p = this.pending.pop();
          if (p?.kind === 'run') p.entry.error = error;
          this.finish(p);
          return;
        }
        head.entry.error ??= error;
        if (head.entry.protocol === 'extended') this.finish(this.pending.shift());
        return;
      }
      case 0x5a: {
        // ReadyForQuery: the end of a simple query or of a Sync; Executes skipped after an error go with it.
        for (;;) {
          const p = this.pending.shift();
          if (!p) return;
          if (p.kind === 'sync') return;
          if (p.entry.protocol !== 'extended') {
            this.finish(p);
            return;
          }
        }
      }
    }
  }
}
