import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseCheckpoint } from '../../src/audit/log/checkpoint.js';
import { verifyConsistency } from '../../src/audit/log/proof-verification.js';
import { type NoteVerifier, openNote } from '../../src/audit/log/signed-note.js';

/**
 * A transparency-log witness written to C2SP tlog-witness (add-checkpoint) and tlog-cosignature (cosignature/v1,
 * Ed25519), with its own key and its own state: the latest checkpoint it cosigned per origin. It verifies the
 * log's signature, the old size against its state and the RFC 6962 consistency proof before cosigning, so a
 * rolled-back or forked log gets 409 or 422 from it, never a cosignature.
 */
export interface TestWitness {
  readonly name: string;
  /** `<name>+<key ID>+base64(0x04 ‖ key)`. */
  readonly vkey: string;
  /** The submission prefix. */
  readonly url: string;
  /** What it cosigned last for an origin. */
  latest(origin: string): { size: number; root: string; note: string } | undefined;
  /** Every request's status, in order. */
  readonly statuses: number[];
  /** Starts witnessing a log (origin → its checkpoint keys). */
  trust(origin: string, keys: readonly NoteVerifier[]): void;
  close(): Promise<void>;
}

export async function startTestWitness(opts: {
  name: string;
  /** The logs it witnesses: origin → their checkpoint keys. */
  logs?: Record<string, readonly NoteVerifier[]>;
  /** Seconds since the epoch for cosignature timestamps. */
  now?: () => number;
}): Promise<TestWitness> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
  const keyId = createHash('sha256')
    .update(opts.name)
    .update(Buffer.from([0x0a, 0x04]))
    .update(raw)
    .digest()
    .subarray(0, 4);
  const vkey = `${opts.name}+${keyId.toString('hex')}+${Buffer.concat([Buffer.from([0x04]), raw]).toString('base64')}`;
  const logs: Record<string, readonly NoteVerifier[]> = { ...opts.logs };
  const state = new Map<string, { size: number; root: string; note: string }>();
  const statuses: number[] = [];

  function handle(body: string): { status: number; type?: string; text: string } {
    const blank = body.indexOf('\n\n');
    if (blank < 0) return { status: 400, text: 'no blank line\n' };
    const head = body
      .slice(0, blank + 1)
      .split('\n')
      .slice(0, -1);
    const note = body.slice(blank + 2);
    const oldLine = /^old (0|[1-9][0-9]*)$/.exec(head[0] ?? '');
    if (!oldLine) return { status: 400, text: 'bad old size line\n' };
    const oldSize = Number(oldLine[1]);
    const proof = head.slice(1).map((l) => Buffer.from(l, 'base64'));
    if (proof.length > 63 || proof.some((p) => p.length !== 32)) return { status: 400, text: 'bad proof\n' };
    const origin = note.slice(0, note.indexOf('\n'));
    const keys = logs[origin];
    if (!keys) return { status: 404, text: 'unknown log\n' };
    let text: string;
    try {
      text = openNote(note, keys).text;
    } catch {
      return { status: 403, text: 'no valid log signature\n' };
    }
    const checkpoint = parseCheckpoint(text);
    if (oldSize > checkpoint.size) return { status: 400, text: 'old size beyond the checkpoint\n' };
    const known = state.get(origin);
    const knownSize = known?.size ?? 0;
    if (oldSize !== knownSize) return { status: 409, type: 'text/x.tlog.size', text: `${knownSize}\n` };
    const root = Buffer.from(checkpoint.rootHash).toString('base64');
    if (known && oldSize === checkpoint.size) {
      if (known.root !== root) return { status: 409, type: 'text/x.tlog.size', text: `${knownSize}\n` };
    } else if (oldSize === 0) {
      if (proof.length !== 0) return { status: 422, text: 'the proof from 0 must be empty\n' };
    } else if (
      !known ||
      !verifyConsistency(
        oldSize,
        checkpoint.size,
        proof,
        Buffer.from(known.root, 'base64'),
        checkpoint.rootHash,
      )
    ) {
      return { status: 422, text: 'consistency proof does not verify\n' };
    }
    state.set(origin, { size: checkpoint.size, root, note });
    const time = BigInt(opts.now?.() ?? Math.floor(Date.now() / 1000));
    const stamp = Buffer.alloc(8);
    stamp.writeBigUInt64BE(time);
    const signature = sign(null, Buffer.from(`cosignature/v1\ntime ${time}\n${text}`), privateKey);
    const line = `\u2014 ${opts.name} ${Buffer.concat([keyId, stamp, signature]).toString('base64')}\n`;
    return { status: 200, text: line };
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer =
        req.method === 'POST' && req.url === '/add-checkpoint'
          ? handle(Buffer.concat(chunks).toString('utf8'))
          : { status: 404, text: 'not found\n' };
      statuses.push(answer.status);
      res.writeHead(answer.status, { 'content-type': answer.type ?? 'text/plain; charset=utf-8' });
      res.end(answer.text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    name: opts.name,
    vkey,
    url: `http://127.0.0.1:${port}`,
    latest: (origin) => state.get(origin),
    statuses,
    trust: (origin, keys) => {
      logs[origin] = keys;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
