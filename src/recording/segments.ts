import type { AuditWriter } from '../audit/audit-writer.js';
import type { Clock } from '../domain/clock.js';
import { SYSTEM_ACTOR } from '../domain/state-machine.js';
import type { Logger } from '../logger.js';
import { recordingStore } from './recording-store.js';
import { asStoreTx, type RecordingDb } from './recording-tables.js';
import { type RecordingStorage, RecordingWriteError, type SegmentRef } from './storage/recording-storage.js';

export interface SegmentLimits {
  /** How often buffered events are written out (asciicast lines, whole ones). */
  flushMs: number;
  /** A segment is sealed once it holds this much… */
  maxBytes: number;
  /** …or is this old, whichever comes first, so a quiet session still seals into the trail. */
  maxAgeMs: number;
}

export const DEFAULT_SEGMENT_LIMITS: SegmentLimits = {
  flushMs: 100,
  maxBytes: 1024 * 1024,
  maxAgeMs: 60_000,
};

export interface SegmentDeps {
  db: RecordingDb;
  storage: RecordingStorage;
  audit: AuditWriter;
  clock: Clock;
  logger: Logger;
  limits: SegmentLimits;
}

/** What a segment's audit event names besides the segment itself. */
export interface RecordingRef {
  recordingId: string;
  sessionId: string;
  requestId: string;
  resource: string;
}

/**
 * Seals a segment and records it: the storage makes it final and hashes exactly what it holds, then one
 * transaction marks the row sealed and appends `recording.segment` (sha256, bytes) to the audit trail. Only the
 * caller that moved the row from open to sealed writes the event, so two servers recovering one orphan write one.
 */
export async function sealSegment(
  deps: Pick<SegmentDeps, 'db' | 'storage' | 'audit' | 'clock'>,
  ref: RecordingRef,
  segment: number,
  opts: { recover?: boolean; final?: boolean } = {},
): Promise<{ sha256: string; bytes: number }> {
  const sealed = await deps.storage.seal(ref.recordingId, segment, { recover: opts.recover === true });
  const at = deps.clock();
  await deps.db.transaction().execute(async (trx) => {
    const mine = await recordingStore.sealSegment(trx, ref.recordingId, segment, {
      ...sealed,
      recovered: opts.recover === true,
      at: at.getTime(),
    });
    if (!mine) {
      // Sealed by another server's recovery (this proxy stopped beating for a while): what this writer added
      // since is not covered by that hash, and the recording cannot go on.
      if (!opts.recover)
        throw new RecordingWriteError(`segment ${segment} of ${ref.recordingId} was sealed elsewhere`);
      return;
    }
    await deps.audit.append(asStoreTx(trx), {
      at,
      actor: SYSTEM_ACTOR,
      action: 'recording.segment',
      requestId: ref.requestId,
      target: { resource: ref.resource },
      details: {
        recordingId: ref.recordingId,
        sessionId: ref.sessionId,
        segment,
        sha256: sealed.sha256,
        bytes: sealed.bytes,
        ...(opts.final ? { final: true } : {}),
        ...(opts.recover ? { recovered: true } : {}),
        storage: deps.storage.location,
      },
    });
  });
  return sealed;
}

/** A recording being written: whole lines in, segments out. */
export interface SegmentWriter {
  /** One whole line (with its newline): buffered, written out at the next flush. */
  write(line: string): void;
  /** Writes what is buffered now; resolves when it is in storage. */
  flush(): Promise<void>;
  /** Flushes and seals the last segment. */
  close(): Promise<void>;
  /** The first write or seal failure, once there has been one: nothing more is written after it. */
  readonly failure: Error | null;
  readonly bytes: number;
}

/**
 * Opens a recording's segments: writes buffered lines every `flushMs`, seals a segment into the audit trail once it
 * is full or old and opens the next, and reports the first failure (to end the session, when the policy fails
 * closed). Segments always end at a line's end, so their concatenation is the recording.
 */
export async function openSegmentWriter(
  deps: SegmentDeps,
  ref: RecordingRef,
  onFailure: (e: Error) => void,
): Promise<SegmentWriter> {
  const { storage, limits } = deps;
  let segment = 0;
  let segmentBytes = 0;
  let openedAt = deps.clock().getTime();
  let total = 0;
  let pending: string[] = [];
  let timer: NodeJS.Timeout | null = null;
  let chain: Promise<void> = Promise.resolve();
  let failure: Error | null = null;
  let closed = false;

  await recordingStore.openSegment(deps.db, ref.recordingId, 0, openedAt);

  const fail = (e: unknown) => {
    if (failure) return;
    failure = e instanceof Error ? e : new Error(String(e));
    deps.logger.error({ recording: ref.recordingId, err: failure.message }, 'recording cannot be written');
    onFailure(failure);
  };

  async function writeOut(): Promise<void> {
    if (failure || pending.length === 0) return;
    const lines = pending;
    pending = [];
    // Whole lines into the open segment up to its size, the rest into the next (a line longer than a segment
    // makes a segment of its own).
    let batch: Buffer[] = [];
    let batchBytes = 0;
    for (const line of lines) {
      const bytes = Buffer.from(line, 'utf8');
      const now = deps.clock().getTime();
      const full =
        segmentBytes + batchBytes + bytes.length > limits.maxBytes || now - openedAt >= limits.maxAgeMs;
      if (full && segmentBytes + batchBytes > 0) {
        await append(batch, batchBytes);
        batch = [];
        batchBytes = 0;
        await sealSegment(deps, ref, segment);
        segment += 1;
        segmentBytes = 0;
        openedAt = now;
        await recordingStore.openSegment(deps.db, ref.recordingId, segment, now);
      }
      batch.push(bytes);
      batchBytes += bytes.length;
    }
    await append(batch, batchBytes);
  }

  async function append(batch: Buffer[], bytes: number): Promise<void> {
    if (bytes === 0) return;
    await storage.append(ref.recordingId, segment, Buffer.concat(batch));
    segmentBytes += bytes;
    total += bytes;
  }

  const flush = (): Promise<void> => {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    chain = chain.then(writeOut).catch(fail);
    return chain;
  };

  return {
    write(line) {
      if (failure || closed) return;
      pending.push(line);
      timer ??= setTimeout(() => void flush(), limits.flushMs);
    },
    flush,
    async close() {
      if (closed) return chain;
      closed = true;
      await flush();
      if (failure) return;
      chain = chain
        .then(() => sealSegment(deps, ref, segment, { final: true }).then(() => undefined))
        .catch(fail);
      await chain;
    },
    get failure() {
      return failure;
    },
    get bytes() {
      return total;
    },
  };
}

/**
 * Finalises segments a dead writer left open (a server killed mid-session): each keeps every whole line flushed
 * before the crash, is sealed into the audit trail marked `recovered`, and its recording and session are closed as
 * ended by the crash. Runs at start (a local folder: all its open segments are orphans) and, for recordings in the
 * store, as a sweep on any server (sessions whose proxy stopped beating).
 */
export async function finaliseOrphans(
  deps: Omit<SegmentDeps, 'limits'>,
  refs: readonly SegmentRef[],
): Promise<number> {
  let done = 0;
  for (const ref of refs) {
    const recording = await recordingStore.getRecording(deps.db, ref.recordingId);
    if (!recording) {
      deps.logger.warn(
        { recording: ref.recordingId },
        'a recording segment with no recording row: left as it is',
      );
      continue;
    }
    const session = await recordingStore.getSession(deps.db, recording.session_id);
    if (!session) continue;
    const rec: RecordingRef = {
      recordingId: recording.id,
      sessionId: session.id,
      requestId: session.request_id,
      resource: session.resource,
    };
    await sealSegment(deps, rec, ref.segment, { recover: true, final: true });
    const at = deps.clock().getTime();
    await recordingStore.endRecording(deps.db, recording.id, at, 'recovered');
    await deps.db.transaction().execute(async (trx) => {
      if (!(await recordingStore.endSession(trx, session.id, at, 'proxy stopped (recording recovered)')))
        return;
      await deps.audit.append(asStoreTx(trx), {
        at: new Date(at),
        actor: SYSTEM_ACTOR,
        action: 'session.ended',
        requestId: session.request_id,
        target: { resource: session.resource },
        details: { sessionId: session.id, reason: 'proxy stopped (recording recovered)' },
      });
    });
    done += 1;
  }
  return done;
}
