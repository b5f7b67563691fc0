/**
 * Where recording segments are kept. The segment writer appends to the open segment as the session runs (every
 * ~100 ms) and seals it when it is full or the recording ends; sealing answers the SHA-256 and size of exactly the
 * bytes kept, which go into the audit trail. Implementations: a local folder (the embedded default, one server),
 * the store itself and an S3-compatible bucket (every server of a deployment reads every recording).
 */
export interface RecordingStorage {
  /**
   * `local:<host>:<folder>`, `store` or `s3:<bucket>/<prefix>stint-<store id>/`: recorded on each recording, so a
   * server knows whether it can play one.
   */
  readonly location: string;
  /** Takes what the storage needs to be written by this process alone (a local folder's writer lock). */
  start(): Promise<void>;
  stop(): Promise<void>;
  append(recordingId: string, segment: number, data: Buffer): Promise<void>;
  /**
   * Makes the segment durable and final and answers what it holds. `recover`: its writer died, so a last line it
   * was cut off in the middle of is dropped first (what was flushed before it stays, whole lines only).
   */
  seal(recordingId: string, segment: number, opts?: { recover?: boolean }): Promise<SealedSegment>;
  /** A segment's bytes, sealed or still being written. */
  read(recordingId: string, segment: number): Promise<Buffer>;
  /** Segments left open in this storage by a writer that is gone (a local folder: every open one at start). */
  orphans(): Promise<SegmentRef[]>;
}

export interface SealedSegment {
  sha256: string;
  bytes: number;
}

export interface SegmentRef {
  recordingId: string;
  segment: number;
}

const RECORDING_ID = /^rec_[A-Za-z0-9_-]{8,64}$/;

/** Ids become paths and keys: only ids this capability makes are accepted. */
export function checkRecordingId(id: string): string {
  if (!RECORDING_ID.test(id)) throw new Error('not a recording id');
  return id;
}

export class RecordingWriteError extends Error {
  override readonly name = 'RecordingWriteError';
}

/** Where an S3-compatible bucket keeps this store's recordings (`s3:<bucket>/<prefix>stint-<store id>/`). */
export function s3Location(bucket: string, prefix: string, storeId: string): string {
  return `s3:${bucket}/${prefix}stint-${storeId}/`;
}
