import { type AuditEventBody, encodeEvent } from '../../src/audit/audit-event.js';
import type { ExportLeaf } from '../../src/audit/export/export-format.js';
import { writeExport } from '../../src/audit/export/export-writer.js';
import { encodeBase64 } from '../../src/audit/log/base64.js';
import { signCheckpoint } from '../../src/audit/log/checkpoint.js';
import { createMemoryTreeStore } from '../../src/audit/log/memory-tree-store.js';
import { leafHash, rootPlan } from '../../src/audit/log/merkle.js';
import { type Ed25519NoteSigner, generateNoteKey, parseSkey } from '../../src/audit/log/signed-note.js';
import { consistencyProof, inclusionProof } from '../../src/audit/log/tree-store.js';

/**
 * A synthetic audit log built with the real log library and a real Ed25519 key: what a Stint server would
 * serve, without a server. Shared by the export, proof and CLI tests.
 */
export const ORIGIN = 'stint.test/audit';
/** The log's skey as the server's key file holds it (leaf MACs derive from it). */
export const logSkey = generateNoteKey(ORIGIN).skey;
export const logKey = parseSkey(logSkey);
/** Same origin, another key: what a forger or a rotated-out key looks like. */
export const otherKey = parseSkey(generateNoteKey(ORIGIN).skey);

const ACTIONS = [
  'request.created',
  'request.approved',
  'grant.activated',
  'credential.shown',
  'grant.expired',
];

export function eventBody(seq: number, time: Date, variant = ''): AuditEventBody {
  const action = ACTIONS[seq % ACTIONS.length] as string;
  return {
    v: 1,
    seq,
    id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    time: time.toISOString(),
    actor: seq % 3 === 0 ? 'stint' : `user${seq % 5}`,
    action,
    result: 'success',
    requestId: `req_${(seq >> 2).toString(16).padStart(16, '0')}`,
    target: { resource: 'prod-db', role: 'readonly' },
    reason: seq % 4 === 0 ? `INC-${seq}${variant}` : null,
    source: seq % 2 === 0 ? { ip: '10.0.0.7', userAgent: 'stint-cli/0.1.0' } : null,
    details: { comment: `ok ${seq}${variant}` },
  };
}

/** The event a retention purge of seqs [0, purgedBelow) records (730 days). */
function purgeEvent(body: AuditEventBody, opts: { purgedBelow?: number }): AuditEventBody {
  const before = new Date(Date.parse(body.time) - 730 * 86_400_000).toISOString();
  return {
    ...body,
    actor: 'stint',
    action: 'audit.purged',
    requestId: null,
    target: null,
    reason: null,
    source: null,
    details: {
      before,
      events: opts.purgedBelow,
      retentionDays: 730,
      range: { start: 0, end: opts.purgedBelow },
    },
  };
}

export interface SyntheticLog {
  readonly size: number;
  readonly times: readonly Date[];
  readonly bodies: readonly (string | null)[];
  readonly leafHashes: readonly Uint8Array[];
  checkpoint(size: number, signers?: readonly Ed25519NoteSigner[]): string;
  /** rootPlan(size) hashes, base64. */
  frontier(size: number): string[];
  consistency(oldSize: number, newSize: number): string[];
  inclusion(seq: number, size: number): string[];
  leaves(start: number, end: number): ExportLeaf[];
}

export function makeLog(
  n: number,
  opts: {
    start?: Date;
    stepMs?: number;
    /** Bodies of seqs below this are purged (null), their leaf hashes kept. */
    purgedBelow?: number;
    /** The seq of the `audit.purged` event recording that purge (default: `purgedBelow`; none: -1). */
    purgeEventAt?: number;
    /** A different history: same shape, other content from this seq on (a fork). */
    variantFrom?: number;
    /** Override one event's time (a straggler stamped before the previous event). */
    timeOf?: (seq: number, time: Date) => Date;
  } = {},
): SyntheticLog {
  const start = opts.start ?? new Date('2025-03-01T20:00:00.000Z');
  const step = opts.stepMs ?? 3_600_000;
  const times: Date[] = [];
  const texts: string[] = [];
  for (let seq = 0; seq < n; seq++) {
    const base = new Date(start.getTime() + seq * step);
    const time = opts.timeOf ? opts.timeOf(seq, base) : base;
    times.push(time);
    const body = eventBody(
      seq,
      time,
      opts.variantFrom !== undefined && seq >= opts.variantFrom ? '-fork' : '',
    );
    texts.push(encodeEvent(seq === (opts.purgeEventAt ?? opts.purgedBelow) ? purgeEvent(body, opts) : body));
  }
  const leafHashes = texts.map((t) => leafHash(t));
  const store = createMemoryTreeStore(leafHashes);
  const bodies = texts.map((t, seq) => (opts.purgedBelow !== undefined && seq < opts.purgedBelow ? null : t));
  const b64 = (list: Uint8Array[]) => list.map((h) => encodeBase64(h));
  return {
    size: n,
    times,
    bodies,
    leafHashes,
    checkpoint: (size, signers = [logKey]) =>
      signCheckpoint({ origin: ORIGIN, size, rootHash: store.rootAt(size) }, signers),
    frontier: (size) => b64(rootPlan(size).map((node) => store.hashOf(node))),
    consistency: (oldSize, newSize) => b64(consistencyProof(oldSize, newSize, store)),
    inclusion: (seq, size) => b64(inclusionProof(seq, size, store)),
    leaves: (from, to) =>
      Array.from({ length: to - from }, (_, i) => ({
        seq: from + i,
        body: bodies[from + i] ?? null,
        leafHash: encodeBase64(leafHashes[from + i] as Uint8Array),
      })),
  };
}

/** Writes the export of seqs [start, end) as `stint audit export` would, with a consistency proof to `latest`. */
export function writeSyntheticExport(
  dir: string,
  log: SyntheticLog,
  start: number,
  end: number,
  latest = log.size,
  checkpointSigners: readonly Ed25519NoteSigner[] = [logKey],
) {
  return writeExport(dir, {
    origin: ORIGIN,
    range: {
      since: log.times[start] ?? new Date('2025-03-01T00:00:00Z'),
      until: new Date((log.times[end - 1] ?? log.times[start] ?? new Date(0)).getTime() + 1),
      start,
      end,
    },
    checkpoint: log.checkpoint(end, checkpointSigners),
    start: { size: start, hashes: log.frontier(start) },
    consistency: {
      old: end,
      new: latest,
      proof: log.consistency(end, latest),
      newCheckpoint: log.checkpoint(latest, checkpointSigners),
    },
    leaves: log.leaves(start, end),
    now: new Date('2025-06-01T12:00:00Z'),
  });
}
