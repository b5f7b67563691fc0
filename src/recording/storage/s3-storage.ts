import { createHash } from 'node:crypto';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import type { Clock } from '../../domain/clock.js';
import type { S3RecordingConfig } from '../recording-config.js';
import type { RecordingDb } from '../recording-tables.js';
import {
  checkRecordingId,
  type RecordingStorage,
  RecordingWriteError,
  type SealedSegment,
  type SegmentRef,
  s3Location,
} from './recording-storage.js';
import { STALE_AFTER_MS } from './store-storage.js';

const pad = (n: number, width: number) => String(n).padStart(width, '0');
/** Chunks fetched at once when a segment is sealed or played. */
const PARALLEL_GETS = 8;

export interface S3StorageDeps {
  db: RecordingDb;
  clock: Clock;
  /** The store's id: every key this deployment writes is under it, so a shared bucket's objects are provably ours. */
  storeId: string;
  config: S3RecordingConfig;
  /** The SDK client's settings beside the config's (tests: credentials; production: the default chain). */
  client?: Partial<S3ClientConfig>;
}

/**
 * Recordings in an S3-compatible bucket. Multipart upload cannot carry a flush every ~100 ms (every part but the
 * last must be ≥ 5 MiB, and an open upload's parts cannot be read back until it completes), so each flush is an
 * object of its own, written as the session runs:
 *
 *   <prefix>stint-<store id>/open/<recording>/<segment>/<n>.part    one per flush, while the segment is open
 *   <prefix>stint-<store id>/sealed/<recording>/<segment>.cast      the segment, once sealed
 *
 * Sealing reads the chunks back in order, writes their concatenation as one object (`If-None-Match: *`, with its
 * SHA-256 as S3's own checksum, so the service checks the bytes it keeps are the bytes hashed into the audit trail)
 * and then deletes the chunks. A chunk is a whole PUT: a crash leaves every flush written before it, whole. Orphans
 * are open segments (by the store's rows) of recordings at this location whose proxy stopped beating, as for the
 * store storage; any server of the deployment seals them. WORM is the bucket's: Object Lock with a default
 * retention is the operator's setting (docs/recording.md).
 */
export function createS3Storage(deps: S3StorageDeps): RecordingStorage {
  const { config } = deps;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(deps.storeId)) throw new Error('the store id is not a key segment');
  const root = `${config.prefix}stint-${deps.storeId}/`;
  const bucket = config.bucket;
  const s3 = new S3Client({
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...deps.client,
  });
  const openPrefix = (id: string, segment: number) =>
    `${root}open/${checkRecordingId(id)}/${pad(segment, 6)}/`;
  const sealedKey = (id: string, segment: number) =>
    `${root}sealed/${checkRecordingId(id)}/${pad(segment, 6)}.cast`;
  /** The next chunk number of each segment this process writes; listed from the bucket when first needed. */
  const next = new Map<string, number>();

  const fail = (what: string, e: unknown) =>
    new RecordingWriteError(`${what}: ${(e as Error).name}: ${(e as Error).message}`);

  async function list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  /** A segment's chunk keys in the order they were written (zero-padded numbers sort as they count). */
  async function chunkKeys(id: string, segment: number): Promise<string[]> {
    const prefix = openPrefix(id, segment);
    return (await list(prefix)).filter((k) => /^\d{8}\.part$/.test(k.slice(prefix.length))).sort();
  }

  async function get(key: string): Promise<Buffer | null> {
    try {
      const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return Buffer.from((await res.Body?.transformToByteArray()) ?? new Uint8Array());
    } catch (e) {
      if (status(e) === 404) return null;
      throw e;
    }
  }

  async function concat(keys: string[]): Promise<Buffer> {
    const parts: Buffer[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i += PARALLEL_GETS) {
      await Promise.all(
        keys.slice(i, i + PARALLEL_GETS).map(async (key, j) => {
          // A chunk listed and then gone was deleted by a seal meanwhile: the caller reads the sealed object.
          const data = await get(key);
          if (!data) throw new ChunkGone(key);
          parts[i + j] = data;
        }),
      );
    }
    return Buffer.concat(parts);
  }

  async function put(key: string, data: Buffer): Promise<'written' | 'exists'> {
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: data,
          ContentType: 'application/x-asciicast',
          ChecksumSHA256: createHash('sha256').update(data).digest('base64'),
          // Never over another writer's object: a chunk number or a sealed segment is written once.
          IfNoneMatch: '*',
        }),
      );
      return 'written';
    } catch (e) {
      if (status(e) === 412) return 'exists';
      throw e;
    }
  }

  async function remove(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const res = await s3.send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
        }),
      );
      if (res.Errors?.length)
        throw new Error(`${res.Errors.length} chunk(s) not deleted: ${res.Errors[0]?.Code}`);
    }
  }

  return {
    location: s3Location(bucket, config.prefix, deps.storeId),

    async start() {
      try {
        await s3.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch (e) {
        throw fail(`recordings bucket ${bucket} cannot be reached`, e);
      }
    },

    async stop() {
      s3.destroy();
    },

    async append(recordingId, segment, data) {
      const k = `${recordingId}/${segment}`;
      try {
        let n = next.get(k);
        if (n === undefined) {
          const last = (await chunkKeys(recordingId, segment)).at(-1);
          n = last ? Number(last.slice(-13, -5)) + 1 : 0;
        }
        const key = `${openPrefix(recordingId, segment)}${pad(n, 8)}.part`;
        if ((await put(key, data)) === 'exists') throw new Error(`${key} was written by another writer`);
        next.set(k, n + 1);
      } catch (e) {
        throw fail(`cannot write recording ${recordingId}`, e);
      }
    },

    async seal(recordingId, segment, opts = {}): Promise<SealedSegment> {
      next.delete(`${recordingId}/${segment}`);
      const key = sealedKey(recordingId, segment);
      try {
        const keys = await chunkKeys(recordingId, segment);
        let data: Buffer;
        try {
          data = await concat(keys);
        } catch (e) {
          if (!(e instanceof ChunkGone)) throw e;
          // Another server sealed it while this one read: that object is what is kept. Anything else is a chunk
          // lost, and a segment is never sealed over a gap.
          const kept = await get(key);
          if (!kept) throw e;
          return digest(kept);
        }
        if (opts.recover) data = data.subarray(0, data.lastIndexOf(0x0a) + 1);
        if ((await put(key, data)) === 'exists') {
          // Sealed already: by a seal that died before its row was updated (or its chunks deleted), or by another
          // server recovering the same orphan. What is kept is that object, so that is what is hashed.
          const kept = await get(key);
          if (!kept) throw new Error(`${key} exists and cannot be read`);
          data = kept;
        }
        await remove(keys);
        return digest(data);
      } catch (e) {
        throw fail(`cannot seal recording ${recordingId} segment ${segment}`, e);
      }
    },

    async read(recordingId, segment) {
      const sealed = await get(sealedKey(recordingId, segment));
      if (sealed) return sealed;
      try {
        return await concat(await chunkKeys(recordingId, segment));
      } catch (e) {
        // Sealed between the two reads: the chunks went, the sealed object is there now.
        if (e instanceof ChunkGone) return (await get(sealedKey(recordingId, segment))) ?? Buffer.alloc(0);
        throw e;
      }
    },

    async orphans(): Promise<SegmentRef[]> {
      const rows = await deps.db
        .selectFrom('recording_segments as g')
        .innerJoin('recordings as r', 'r.id', 'g.recording_id')
        .innerJoin('recorded_sessions as s', 's.id', 'r.session_id')
        .select(['g.recording_id', 'g.idx'])
        .where('g.state', '=', 'open')
        .where('r.storage', '=', `s3:${bucket}/${root}`)
        .where('s.heartbeat_at', '<', deps.clock().getTime() - STALE_AFTER_MS)
        .execute();
      return rows.map((r) => ({ recordingId: r.recording_id, segment: r.idx }));
    },
  };
}

class ChunkGone extends Error {
  constructor(key: string) {
    super(`chunk ${key} is gone`);
  }
}

function digest(data: Buffer): SealedSegment {
  return { sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
}

function status(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}
