import { decodeBase64Strict } from '../log/base64.js';
import { HASH_SIZE } from '../log/merkle.js';
import type { LeafRecord } from '../log/verify-types.js';

/**
 * The audit export directory: the unit of archival and of offline verification (docs/audit.md).
 *
 *   events-YYYY-MM-DD.jsonl  one line per event, `{"seq":…,"body":"<canonical JSON>"|null,"leafHash":"<b64>"}`
 *   checkpoint.txt           the signed checkpoint at the export's end (C2SP signed-note)
 *   start.json               the tree's frontier where the export begins: `{ size, hashes }`
 *   consistency.json         a proof from checkpoint.txt to the newest checkpoint when exported, with that note
 *   manifest.json            origin, range, event count and every file's SHA-256; written last
 *
 * Only checkpoint.txt is signed. Everything else is either recomputed from the events (a wrong start.json or a
 * changed line makes the root differ) or a convenience (the manifest's hashes catch a damaged copy early).
 */

export const EXPORT_FORMAT = 'stint-audit-export/1';
export const MANIFEST_FILE = 'manifest.json';
export const CHECKPOINT_FILE = 'checkpoint.txt';
export const START_FILE = 'start.json';
export const CONSISTENCY_FILE = 'consistency.json';
export const SEGMENT_FILE = /^events-(\d{4}-\d{2}-\d{2})\.jsonl$/;

/** One event as the server serves it and as a segment line holds it. */
export interface ExportLeaf {
  readonly seq: number;
  /** The canonical JSON of the event (the exact leaf input), or null once retention purged it. */
  readonly body: string | null;
  /** base64 of the 32-byte RFC 9162 leaf hash. */
  readonly leafHash: string;
}

/** start.json: `rootPlan(size)` hashes, left to right (the `VerifyOptions.start` of the verifier). */
export interface StartFile {
  readonly size: number;
  readonly hashes: readonly string[];
}

/** consistency.json: proof that checkpoint.txt (size `old`) is a prefix of the log as it was at `new`. */
export interface ConsistencyFile {
  readonly old: number;
  readonly new: number;
  readonly proof: readonly string[];
  /** The signed checkpoint of size `new`. */
  readonly newCheckpoint: string;
}

export interface ManifestFile {
  readonly name: string;
  readonly sha256: string;
  readonly bytes: number;
  /** Segments only: the first seq in the file and how many lines it has. */
  readonly first?: number;
  readonly count?: number;
}

export interface Manifest {
  readonly format: typeof EXPORT_FORMAT;
  readonly origin: string;
  /** Events whose time is in [since, until): seqs [start, end). */
  readonly range: {
    readonly since: string;
    readonly until: string;
    readonly start: number;
    readonly end: number;
  };
  readonly events: number;
  readonly createdAt: string;
  /** Segments in log order, then checkpoint.txt, start.json and consistency.json. */
  readonly files: readonly ManifestFile[];
}

export const segmentName = (day: string): string => `events-${day}.jsonl`;

/** `YYYY-MM-DD` of an ISO time in UTC, or null when `time` is not one. */
export function utcDay(time: unknown): string | null {
  if (typeof time !== 'string' || !/^\d{4}-\d{2}-\d{2}T/.test(time)) return null;
  return time.slice(0, 10);
}

export const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * The one canonical base64 spelling of 32 bytes: 43 characters and '=', the last character before it carrying
 * two zero low bits. Checked by shape instead of decoding and re-encoding: it runs once per exported event.
 */
const HASH_BASE64 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** A 32-byte hash in canonical base64, or null. */
export function decodeHash(text: unknown): Uint8Array | null {
  if (typeof text !== 'string' || text.length !== 44 || !HASH_BASE64.test(text)) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.length === HASH_SIZE ? bytes : null;
}

/** A list of 32-byte hashes in base64, or null if any is not one. */
export function decodeHashes(list: unknown): Uint8Array[] | null {
  if (!Array.isArray(list)) return null;
  const out: Uint8Array[] = [];
  for (const text of list) {
    const hash = decodeHash(text);
    if (!hash) return null;
    out.push(hash);
  }
  return out;
}

export const encodeLine = (leaf: ExportLeaf): string =>
  `${JSON.stringify({ seq: leaf.seq, body: leaf.body, leafHash: leaf.leafHash })}\n`;

/**
 * The `seq` inside a canonical body. Every body Stint writes holds `"seq":<n>,` at its top level, so when the
 * outer seq appears in that form it is taken without parsing the body (once per event, this is most of the
 * cost of reading an export); anything else is parsed. Only the diagnosis depends on this: the leaf hashes and
 * the root decide whether the events verify, whatever index a record claims.
 */
function innerSeq(body: string, outer: number): number | null {
  // Fields after "seq" in key order (source, target, time, v) hold no "seq": its last mention is the top one.
  const at = body.lastIndexOf('"seq":');
  if (at >= 0 && body.startsWith(`${outer},`, at + 6)) return outer;
  try {
    const inner = (JSON.parse(body) as { seq?: unknown } | null)?.seq;
    return isCount(inner) ? inner : null;
  } catch {
    return null;
  }
}

/**
 * The verifier's record for one served or exported event. The index is the `seq` inside the hashed body when
 * there is one, so that swapping two events (or just their seq fields) reads as REORDERED, not as a bare root
 * mismatch; a body that no longer parses keeps the outer seq and fails its leaf hash (CHANGED).
 */
export function leafRecordOf(leaf: unknown): LeafRecord | { readonly error: string } {
  if (leaf === null || typeof leaf !== 'object' || Array.isArray(leaf)) return { error: 'not a JSON object' };
  const { seq, body, leafHash, mac } = leaf as Record<string, unknown>;
  if (!isCount(seq)) return { error: 'seq is not a non-negative integer' };
  if (body !== null && typeof body !== 'string')
    return { error: `event ${seq}: body is neither a string nor null` };
  const hash = decodeHash(leafHash);
  if (!hash) return { error: `event ${seq}: leafHash is not base64 of 32 bytes` };
  // A body that does not parse is still hashed as it is: CHANGED names it.
  const index = body === null ? seq : (innerSeq(body, seq) ?? seq);
  if (mac === undefined || mac === null) return { index, data: body, leafHash: hash, mac: null };
  const macBytes = typeof mac === 'string' ? decodeBase64Strict(mac) : null;
  if (!macBytes) return { error: `event ${seq}: mac is not base64` };
  return { index, data: body, leafHash: hash, mac: macBytes };
}

/** One segment line as a record, or why it is not one. */
export function parseSegmentLine(line: string): LeafRecord | { readonly error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { error: 'not JSON' };
  }
  return leafRecordOf(parsed);
}

export function isErrorResult(v: LeafRecord | { readonly error: string }): v is { readonly error: string } {
  return 'error' in v;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** Shape-checks a manifest; returns what is wrong with it, or the manifest. */
export function parseManifest(value: unknown): Manifest | string {
  if (!isObject(value)) return 'manifest.json is not a JSON object';
  if (value.format !== EXPORT_FORMAT)
    return `manifest.json is not ${EXPORT_FORMAT} (format ${JSON.stringify(value.format)})`;
  if (typeof value.origin !== 'string' || value.origin === '') return 'manifest.json has no origin';
  const range = value.range;
  if (
    !isObject(range) ||
    typeof range.since !== 'string' ||
    typeof range.until !== 'string' ||
    !isCount(range.start) ||
    !isCount(range.end) ||
    range.end < range.start
  ) {
    return 'manifest.json has no valid range { since, until, start, end }';
  }
  if (!isCount(value.events)) return 'manifest.json has no event count';
  if (!Array.isArray(value.files)) return 'manifest.json has no file list';
  for (const f of value.files) {
    if (
      !isObject(f) ||
      typeof f.name !== 'string' ||
      f.name.includes('/') ||
      f.name.includes('\\') ||
      typeof f.sha256 !== 'string' ||
      !isCount(f.bytes) ||
      (f.first !== undefined && !isCount(f.first)) ||
      (f.count !== undefined && !isCount(f.count))
    ) {
      return `manifest.json lists a file entry that is not { name, sha256, bytes }: ${JSON.stringify(f)}`;
    }
  }
  return value as unknown as Manifest;
}

export function parseStartFile(value: unknown): { size: number; hashes: Uint8Array[] } | string {
  if (!isObject(value) || !isCount(value.size)) return 'start.json is not { size, hashes }';
  const hashes = decodeHashes(value.hashes);
  if (!hashes) return 'start.json hashes are not base64 of 32 bytes each';
  return { size: value.size, hashes };
}

export function parseConsistencyFile(
  value: unknown,
): { old: number; new: number; proof: Uint8Array[]; newCheckpoint: string } | string {
  if (
    !isObject(value) ||
    !isCount(value.old) ||
    !isCount(value.new) ||
    typeof value.newCheckpoint !== 'string'
  ) {
    return 'consistency.json is not { old, new, proof, newCheckpoint }';
  }
  const proof = decodeHashes(value.proof);
  if (!proof) return 'consistency.json proof hashes are not base64 of 32 bytes each';
  return { old: value.old, new: value.new, proof, newCheckpoint: value.newCheckpoint };
}
