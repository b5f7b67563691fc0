import { createHash, type Hash } from 'node:crypto';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { openCheckpoint } from '../log/checkpoint.js';
import { isAuditLogError } from '../log/errors.js';
import type { HashPool } from '../log/hash-pool.js';
import { rootPlan } from '../log/merkle.js';
import { verifyLogParallel } from '../log/parallel-verifier.js';
import { verifyConsistency } from '../log/proof-verification.js';
import type { NoteVerifier } from '../log/signed-note.js';
import { verifyLog } from '../log/verifier.js';
import type { VerifyProblem, VerifyProblemCode } from '../log/verify-problem.js';
import type { LeafRecord, VerifiedCheckpoint, VerifyOptions, VerifyReport } from '../log/verify-types.js';
import {
  CHECKPOINT_FILE,
  CONSISTENCY_FILE,
  isErrorResult,
  MANIFEST_FILE,
  type Manifest,
  parseConsistencyFile,
  parseManifest,
  parseSegmentLine,
  parseStartFile,
  SEGMENT_FILE,
  START_FILE,
} from './export-format.js';

export interface ExportVerifyOptions {
  /** Trusted log keys (old and new during a rotation). Never taken from the export itself. */
  readonly keys: readonly NoteVerifier[];
  /**
   * Hashing threads: 0 hashes on this thread; default one per core but one for large exports (≥ 200,000
   * events) and none for small ones, where starting workers costs more than it saves.
   */
  readonly workers?: number;
  /** A pool to reuse (the caller closes it). */
  readonly pool?: HashPool;
}

export type ExportReport =
  | {
      readonly ok: true;
      readonly origin: string;
      /** The export's events are seqs [start, size). */
      readonly start: number;
      readonly size: number;
      readonly events: number;
      readonly rootHash: Uint8Array;
      readonly checkpoints: readonly VerifiedCheckpoint[];
      /** The newer checkpoint consistency.json proves checkpoint.txt a prefix of. */
      readonly latest: { readonly size: number; readonly rootHash: Uint8Array; readonly note: string };
      readonly eventsRead: number;
    }
  | { readonly ok: false; readonly problem: VerifyProblem; readonly eventsRead: number };

const PARALLEL_FROM = 200_000;
const READ_CHUNK = 1 << 20;
/** Small files are read whole; anything bigger than this is not what the exporter writes. */
const SMALL_FILE_LIMIT = 4 << 20;

const fail = (
  code: VerifyProblemCode,
  message: string,
  extra: Partial<VerifyProblem> = {},
): ExportReport => ({
  ok: false,
  problem: { code, message, ...extra },
  eventsRead: 0,
});

class ExportUnreadable extends Error {}

async function readSmall(dir: string, name: string): Promise<Buffer> {
  const path = join(dir, name);
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    throw new ExportUnreadable(`${name} is missing`);
  }
  if (size > SMALL_FILE_LIMIT) throw new ExportUnreadable(`${name} is ${size} bytes: too large to be one`);
  return readFile(path);
}

function parseJson(name: string, bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ExportUnreadable(`${name} is not JSON`);
  }
}

/** What the segment stream saw besides records: a line it could not read, and each file's actual SHA-256. */
interface StreamState {
  nextIndex: number;
  failure: VerifyProblem | null;
  digests: Map<string, string>;
}

/**
 * The lines of a file, split at '\n' bytes (never inside a UTF-8 sequence), with every byte read fed to `hash`.
 * Reads large chunks itself: readline costs about as much as everything else the verifier does per event.
 */
async function* fileLines(path: string, hash: Hash): AsyncGenerator<string> {
  const file = await open(path, 'r');
  try {
    let rest: Buffer = Buffer.alloc(0);
    for (;;) {
      const chunk = Buffer.allocUnsafe(READ_CHUNK);
      const { bytesRead } = await file.read(chunk, 0, READ_CHUNK, null);
      if (bytesRead === 0) break;
      const read = chunk.subarray(0, bytesRead);
      hash.update(read);
      const buf = rest.length === 0 ? read : Buffer.concat([rest, read]);
      let from = 0;
      for (let nl = buf.indexOf(0x0a, from); nl >= 0; nl = buf.indexOf(0x0a, from)) {
        yield buf.toString('utf8', from, nl);
        from = nl + 1;
      }
      rest = buf.subarray(from);
    }
    if (rest.length > 0) yield rest.toString('utf8');
  } finally {
    await file.close();
  }
}

/**
 * The events of the segments the manifest lists, in its order, as verifier records; one chunk in memory at a
 * time. A line that is not an event stops the stream and is recorded in `state` at the index it should hold.
 */
async function* segmentRecords(
  dir: string,
  names: readonly string[],
  state: StreamState,
): AsyncGenerator<LeafRecord> {
  for (const name of names) {
    const path = join(dir, name);
    if (!(await stat(path).catch(() => null))?.isFile()) {
      state.failure = { code: 'MALFORMED', index: state.nextIndex, message: `${name} is missing` };
      return;
    }
    const hash = createHash('sha256');
    let lineNo = 0;
    for await (const line of fileLines(path, hash)) {
      lineNo++;
      const record = parseSegmentLine(line);
      if (isErrorResult(record)) {
        state.failure = {
          code: 'MALFORMED',
          index: state.nextIndex,
          message: `${name} line ${lineNo}: ${record.error}`,
        };
        return;
      }
      state.nextIndex = record.index + 1;
      yield record;
    }
    // Only a file read to its end has a digest worth comparing.
    state.digests.set(name, hash.digest('hex'));
  }
}

/** The origin to require: the trusted keys' name (a log key is named for its log), else the manifest's. */
function expectedOrigin(keys: readonly NoteVerifier[], manifest: Manifest): string {
  const names = new Set(keys.map((k) => k.name));
  return names.size === 1 ? ([...names][0] as string) : manifest.origin;
}

function openProblem(e: unknown, what: string): VerifyProblem {
  if (!isAuditLogError(e)) throw e;
  const code: VerifyProblemCode =
    e.code === 'CHECKPOINT_WRONG_ORIGIN'
      ? 'WRONG_ORIGIN'
      : e.code === 'CHECKPOINT_MALFORMED'
        ? 'MALFORMED'
        : 'BAD_SIGNATURE';
  return { code, message: `${what}: ${e.message}` };
}

/**
 * Verifies an export directory with no server and no database: the events recomputed from the segments must
 * reach checkpoint.txt's signed root from start.json's frontier, cover every event exported, and the newer
 * checkpoint in consistency.json must extend it. Streams, so memory stays flat however large the export.
 * Problems come in log order: an event problem before a checkpoint problem after the events, and the
 * manifest's file hashes (unsigned, a convenience) last.
 */
export async function verifyExport(dir: string, options: ExportVerifyOptions): Promise<ExportReport> {
  let manifest: Manifest;
  let note: string;
  let start: { size: number; hashes: Uint8Array[] };
  let consistency: Exclude<ReturnType<typeof parseConsistencyFile>, string>;
  const smallDigests = new Map<string, string>();
  try {
    const parsed = parseManifest(parseJson(MANIFEST_FILE, await readSmall(dir, MANIFEST_FILE)));
    if (typeof parsed === 'string') return fail('MALFORMED', parsed);
    manifest = parsed;
    const small = new Map<string, Buffer>();
    for (const name of [CHECKPOINT_FILE, START_FILE, CONSISTENCY_FILE]) {
      const bytes = await readSmall(dir, name);
      small.set(name, bytes);
      smallDigests.set(name, createHash('sha256').update(bytes).digest('hex'));
    }
    note = (small.get(CHECKPOINT_FILE) as Buffer).toString('utf8');
    const s = parseStartFile(parseJson(START_FILE, small.get(START_FILE) as Buffer));
    if (typeof s === 'string') return fail('MALFORMED', s);
    start = s;
    const c = parseConsistencyFile(parseJson(CONSISTENCY_FILE, small.get(CONSISTENCY_FILE) as Buffer));
    if (typeof c === 'string') return fail('MALFORMED', c);
    consistency = c;
  } catch (e) {
    if (e instanceof ExportUnreadable) return fail('MALFORMED', e.message);
    throw e;
  }

  const origin = expectedOrigin(options.keys, manifest);
  const segments = manifest.files.filter((f) => SEGMENT_FILE.test(f.name)).map((f) => f.name);
  // Frontier.restore would throw on a frontier of the wrong shape for its size: a format problem here.
  if (start.hashes.length !== rootPlan(start.size).length) {
    return fail(
      'MALFORMED',
      `start.json has ${start.hashes.length} hashes, not the frontier of size ${start.size}`,
    );
  }
  const verifyOptions: VerifyOptions = {
    origin,
    keys: options.keys,
    checkpoints: [note],
    start,
    requirePurges: true,
  };

  const state: StreamState = { nextIndex: start.size, failure: null, digests: new Map() };
  const records = segmentRecords(dir, segments, state);
  // This thread is busy reading and parsing lines: one core for it, the others hash.
  const workers =
    options.workers ?? (manifest.events >= PARALLEL_FROM ? Math.max(1, availableParallelism() - 1) : 0);
  const report: VerifyReport =
    workers > 0 || options.pool
      ? await verifyLogParallel(records, {
          ...verifyOptions,
          workers,
          ...(options.pool ? { pool: options.pool } : {}),
        })
      : await verifyLog(records, verifyOptions);
  // Stop reading a file the verifier gave up on.
  await records.return(undefined);

  if (
    state.failure &&
    (report.ok || report.problem.code === 'MISSING' || report.problem.code === 'NO_CHECKPOINT')
  ) {
    return { ok: false, problem: state.failure, eventsRead: report.eventsRead };
  }
  if (!report.ok) {
    // The tree check counts a mismatch from the last matched checkpoint, or from 0: an export starts later.
    const { index, message } = report.problem;
    if (index !== undefined && index < start.size) {
      const from = message.replace(`events ${index}..`, `events ${start.size}..`);
      return { ...report, problem: { ...report.problem, index: start.size, message: from } };
    }
    return report;
  }
  const eventsRead = report.eventsRead;
  if (report.unanchored > 0) {
    return {
      ok: false,
      eventsRead,
      problem: {
        code: 'NO_CHECKPOINT',
        index: report.size,
        checkpointSize: report.size,
        message:
          `events ${report.size}..${report.size + report.unanchored - 1} are not covered by ${CHECKPOINT_FILE}, ` +
          `which is of size ${report.size}: it is not the checkpoint this export was made with`,
      },
    };
  }

  // consistency.json: the archived checkpoint is a prefix of the log as it was later.
  let latest: ReturnType<typeof openCheckpoint>;
  try {
    latest = openCheckpoint(consistency.newCheckpoint, options.keys, origin);
  } catch (e) {
    return { ok: false, eventsRead, problem: openProblem(e, `${CONSISTENCY_FILE} newCheckpoint`) };
  }
  const newer = latest.checkpoint;
  if (consistency.old !== report.size || consistency.new !== newer.size) {
    return {
      ok: false,
      eventsRead,
      problem: {
        code: 'MALFORMED',
        message: `${CONSISTENCY_FILE} is a proof from ${consistency.old} to ${consistency.new}, not from ${report.size} to ${newer.size}`,
      },
    };
  }
  if (!verifyConsistency(report.size, newer.size, consistency.proof, report.rootHash, newer.rootHash)) {
    return {
      ok: false,
      eventsRead,
      problem: {
        code: 'FORK',
        checkpointSize: newer.size,
        message: `the signed checkpoint of size ${newer.size} in ${CONSISTENCY_FILE} is not consistent with ${CHECKPOINT_FILE} (size ${report.size})`,
      },
    };
  }

  // The manifest's hashes: not a signature, but a copy that differs from what was exported is not that export.
  const listed = new Set(manifest.files.map((f) => f.name));
  for (const f of manifest.files) {
    const actual = state.digests.get(f.name) ?? smallDigests.get(f.name);
    if (actual === undefined) {
      return {
        ok: false,
        eventsRead,
        problem: {
          code: 'MALFORMED',
          message: `${MANIFEST_FILE} lists ${f.name}, which is not part of an export`,
        },
      };
    }
    if (actual !== f.sha256.toLowerCase()) {
      return {
        ok: false,
        eventsRead,
        problem: { code: 'MALFORMED', message: `${f.name} does not match the SHA-256 in ${MANIFEST_FILE}` },
      };
    }
  }
  for (const name of [CHECKPOINT_FILE, START_FILE, CONSISTENCY_FILE]) {
    if (!listed.has(name)) {
      return {
        ok: false,
        eventsRead,
        problem: { code: 'MALFORMED', message: `${MANIFEST_FILE} does not list ${name}` },
      };
    }
  }
  const unlisted = (await readdir(dir)).filter((name) => SEGMENT_FILE.test(name) && !listed.has(name));
  if (unlisted.length > 0) {
    return {
      ok: false,
      eventsRead,
      problem: { code: 'MALFORMED', message: `${unlisted.join(', ')} not listed in ${MANIFEST_FILE}` },
    };
  }
  const events = report.size - start.size;
  if (manifest.events !== events) {
    return {
      ok: false,
      eventsRead,
      problem: {
        code: 'MALFORMED',
        message: `${MANIFEST_FILE} counts ${manifest.events} events; the files hold ${events}`,
      },
    };
  }
  return {
    ok: true,
    origin,
    start: start.size,
    size: report.size,
    events,
    rootHash: report.rootHash,
    checkpoints: report.checkpoints,
    latest: { size: newer.size, rootHash: newer.rootHash, note: consistency.newCheckpoint },
    eventsRead,
  };
}
