import { createHash } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAsciicast } from '../../src/recording/asciicast.js';
import { recordingConfigFromEnv, type S3RecordingConfig } from '../../src/recording/recording-config.js';
import { createRecordingModule, NO_PROXY } from '../../src/recording/recording-module.js';
import { recordingStore } from '../../src/recording/recording-store.js';
import { recordingDb } from '../../src/recording/recording-tables.js';
import { createS3Storage } from '../../src/recording/storage/s3-storage.js';
import { STALE_AFTER_MS } from '../../src/recording/storage/store-storage.js';
import { createHarness, type Harness } from '../support/harness.js';
import { type S3Double, startS3Double } from './s3-double.js';

let s3: S3Double;
let h: Harness;
beforeAll(async () => {
  s3 = await startS3Double({ buckets: ['recordings'] });
  h = await createHarness('sqlite');
});
afterAll(async () => {
  await h?.close();
  await s3?.close();
});

const config = (): S3RecordingConfig => ({
  bucket: 'recordings',
  prefix: 'stint/',
  endpoint: s3.url,
  region: s3.region,
  forcePathStyle: true,
});
const db = () => recordingDb(h.stint.deps.store.db);
const storageFor = (storeId = h.storeId, secret = s3.credentials.secretAccessKey) =>
  createS3Storage({
    db: db(),
    clock: () => new Date(),
    storeId,
    config: config(),
    client: {
      credentials: { accessKeyId: s3.credentials.accessKeyId, secretAccessKey: secret },
      maxAttempts: 1,
    },
  });
const objects = () => [...(s3.buckets.get('recordings')?.keys() ?? [])];
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('recordings in an S3 bucket (a local double checking every request on the wire)', () => {
  it('writes each flush as it comes, seals the segment into one object hashed over exactly its bytes', async () => {
    const storage = storageFor();
    await storage.start();
    const head = '{"version":2,"width":80,"height":24}\n';
    const line = '[0.1,"o","hello"]\n';
    await storage.append('rec_s3contract01', 0, Buffer.from(head));
    await storage.append('rec_s3contract01', 0, Buffer.from(line));
    // Written as the session runs: both flushes are in the bucket, under this store's own prefix, and read back.
    const open = objects().filter((k) => k.includes('rec_s3contract01'));
    expect(open).toEqual([
      `stint/stint-${h.storeId}/open/rec_s3contract01/000000/00000000.part`,
      `stint/stint-${h.storeId}/open/rec_s3contract01/000000/00000001.part`,
    ]);
    expect((await storage.read('rec_s3contract01', 0)).toString()).toBe(head + line);

    const sealed = await storage.seal('rec_s3contract01', 0);
    expect(sealed).toEqual({ sha256: sha(head + line), bytes: Buffer.byteLength(head + line) });
    const key = `stint/stint-${h.storeId}/sealed/rec_s3contract01/000000.cast`;
    expect(objects().filter((k) => k.includes('rec_s3contract01'))).toEqual([key]);
    expect(s3.buckets.get('recordings')?.get(key)?.toString()).toBe(head + line);
    expect((await storage.read('rec_s3contract01', 0)).toString()).toBe(head + line);
    // The object was written with S3's own SHA-256 checksum of the same bytes, and never over another.
    const put = s3.calls.find((c) => c.op === 'PutObject' && c.key === key);
    expect(put?.headers['x-amz-checksum-sha256']).toBe(Buffer.from(sealed.sha256, 'hex').toString('base64'));
    expect(put?.headers['if-none-match']).toBe('*');
    // Sealing again (a seal that died before its row was marked) answers what is kept, and changes nothing.
    expect(await storage.seal('rec_s3contract01', 0)).toEqual(sealed);
    expect(
      s3.calls.every((c) => c.status < 300 || c.code === 'PreconditionFailed' || c.code === 'NoSuchKey'),
    ).toBe(true);
    await storage.stop();
  });

  it('pages through a long segment’s chunks, in the order written', async () => {
    const storage = storageFor();
    s3.pageSize = 3;
    try {
      const lines = Array.from({ length: 11 }, (_, i) => `[${i}.0,"o","${i}"]\n`);
      for (const l of lines) await storage.append('rec_s3contract02', 4, Buffer.from(l));
      // A new writer of the same segment (this process restarted) carries on after the last chunk.
      await storageFor().append('rec_s3contract02', 4, Buffer.from('[11.0,"o","11"]\n'));
      lines.push('[11.0,"o","11"]\n');
      expect((await storage.seal('rec_s3contract02', 4)).sha256).toBe(sha(lines.join('')));
      expect(s3.calls.filter((c) => c.op === 'ListObjectsV2' && c.status === 200).length).toBeGreaterThan(4);
    } finally {
      s3.pageSize = 1000;
    }
  });

  it('fails a write the bucket refuses, as a recording failure', async () => {
    const storage = storageFor();
    s3.failNext('PutObject', 503, 'SlowDown');
    await expect(storage.append('rec_s3contract03', 0, Buffer.from('x\n'))).rejects.toThrow(
      /cannot write recording rec_s3contract03: .*SlowDown|503/,
    );
    const missing = createS3Storage({
      ...{ db: db(), clock: () => new Date(), storeId: h.storeId },
      config: { ...config(), bucket: 'no-such-bucket' },
      client: { credentials: s3.credentials, maxAttempts: 1 },
    });
    await expect(missing.start()).rejects.toThrow(/recordings bucket no-such-bucket cannot be reached/);
  });

  it('refuses a request signed with the wrong secret, or whose body is not what was signed', async () => {
    const wrong = storageFor(h.storeId, `${s3.credentials.secretAccessKey.slice(1)}x`);
    await expect(wrong.append('rec_s3contract04', 0, Buffer.from('x\n'))).rejects.toThrow(
      /SignatureDoesNotMatch/,
    );
    expect(objects().some((k) => k.includes('rec_s3contract04'))).toBe(false);
    expect(s3.calls.at(-1)).toMatchObject({ status: 403, code: 'SignatureDoesNotMatch' });

    // The right key, but the body swapped after signing: refused, nothing kept.
    const client = new S3Client({
      region: s3.region,
      endpoint: s3.url,
      forcePathStyle: true,
      credentials: s3.credentials,
      maxAttempts: 1,
    });
    client.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { body: unknown }).body = Buffer.from('forged\n');
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: 'tamper' },
    );
    await expect(
      client.send(
        new PutObjectCommand({
          Bucket: 'recordings',
          Key: 'stint/tampered.part',
          Body: Buffer.from('signed\n'),
        }),
      ),
    ).rejects.toThrow();
    expect(s3.calls.at(-1)).toMatchObject({ status: 403, code: 'SignatureDoesNotMatch' });
    expect(objects()).not.toContain('stint/tampered.part');
    // Signed right, but the SHA-256 checksum is of other bytes: S3 keeps nothing it cannot match to it.
    const honest = new S3Client({
      region: s3.region,
      endpoint: s3.url,
      forcePathStyle: true,
      credentials: s3.credentials,
      maxAttempts: 1,
    });
    await expect(
      honest.send(
        new PutObjectCommand({
          Bucket: 'recordings',
          Key: 'stint/checksum.part',
          Body: Buffer.from('kept\n'),
          ChecksumSHA256: createHash('sha256').update('other\n').digest('base64'),
        }),
      ),
    ).rejects.toThrow();
    expect(s3.calls.at(-1)).toMatchObject({ status: 400, code: 'BadDigest' });
    expect(objects()).not.toContain('stint/checksum.part');
    honest.destroy();
    client.destroy();
  });

  it('any server of the deployment seals a dead proxy’s open segments, whole lines only; another store’s are not its', async () => {
    const stale = Date.now() - STALE_AFTER_MS - 1_000;
    const storage = storageFor();
    const session = (id: string, heartbeat: number) =>
      recordingStore.insertSession(db(), {
        id,
        request_id: 'req_0000000000000002',
        requester: 'alice',
        resource: 'staging-db',
        role: 'read',
        sensitivity: 'routine',
        protocol: 'ssh',
        account: 'ops',
        client: '10.0.0.1',
        server: 'gone/1',
        started_at: stale,
        ended_at: null,
        end_reason: null,
        heartbeat_at: heartbeat,
      });
    const recording = (id: string, sessionId: string, location: string) =>
      recordingStore.insertRecording(db(), {
        id,
        session_id: sessionId,
        channel: 1,
        type: 'shell',
        command: null,
        storage: location,
        state: 'live',
        started_at: stale,
        ended_at: null,
      });
    await session('ses_s3orphan0001', stale);
    await session('ses_s3alive00001', Date.now());
    await recording('rec_s3orphan0001', 'ses_s3orphan0001', storage.location);
    await recording('rec_s3alive00001', 'ses_s3alive00001', storage.location);
    // A deployment with another store writing to the same bucket: its location differs, so it is never ours.
    const theirs = storageFor('otherstore0001');
    expect(theirs.location).not.toBe(storage.location);
    await recording('rec_s3theirs0001', 'ses_s3orphan0001', theirs.location);
    for (const id of ['rec_s3orphan0001', 'rec_s3alive00001', 'rec_s3theirs0001'])
      await recordingStore.openSegment(db(), id, 0, stale);
    await storage.append('rec_s3orphan0001', 0, Buffer.from('{"version":2,"width":80,"height":24}\n'));
    await storage.append('rec_s3orphan0001', 0, Buffer.from('[0.1,"o","whole"]\n[0.2,"o","cut of'));
    await theirs.append('rec_s3theirs0001', 0, Buffer.from('[0.1,"o","theirs"]\n'));

    expect(await storage.orphans()).toEqual([{ recordingId: 'rec_s3orphan0001', segment: 0 }]);

    const s3Config = { ...NO_PROXY, storage: 's3' as const, s3: config() };
    process.env.AWS_ACCESS_KEY_ID = s3.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3.credentials.secretAccessKey;
    // Two servers sweep at once (credentials from the SDK's default chain): one seals, one event.
    const one = createRecordingModule({ ...h.stint.deps, storeId: h.storeId, config: s3Config });
    const two = createRecordingModule({ ...h.stint.deps, storeId: h.storeId, config: s3Config });
    expect(one.module.sweeps?.map((s) => s.name)).toContain('recording.orphans');
    const done = await Promise.all([one.recover(), two.recover()]);
    expect(done[0] + done[1]).toBeGreaterThanOrEqual(1);

    const [segment] = await recordingStore.segmentsOf(db(), 'rec_s3orphan0001');
    expect(segment).toMatchObject({ state: 'sealed', recovered: 1 });
    const text = (await one.storage.read('rec_s3orphan0001', 0)).toString();
    expect(text.endsWith('[0.1,"o","whole"]\n')).toBe(true);
    expect(parseAsciicast(text).events).toHaveLength(1);
    expect(segment?.sha256).toBe(sha(text));
    const events = await h.stint.deps.store.db
      .selectFrom('audit_events')
      .select('body')
      .where('action', '=', 'recording.segment')
      .execute();
    const mine = events.filter((e) => e.body?.includes('rec_s3orphan0001'));
    expect(mine).toHaveLength(1);
    expect(mine[0]?.body).toContain(sha(text));
    // The live session's segment and the other store's chunks are left as they are.
    expect((await recordingStore.segmentsOf(db(), 'rec_s3alive00001'))[0]?.state).toBe('open');
    expect(objects().filter((k) => k.includes('rec_s3theirs0001'))).toHaveLength(1);
    for (const m of [one, two]) await m.storage.stop();
  });
});

describe('S3 settings', () => {
  it('reads the bucket, prefix, endpoint, region and path style, and names a bad one', () => {
    const c = recordingConfigFromEnv(
      {
        STINT_RECORDINGS: 's3',
        STINT_RECORDINGS_S3_BUCKET: 'acme-recordings',
        STINT_RECORDINGS_S3_PREFIX: 'prod',
        STINT_RECORDINGS_S3_ENDPOINT: 'https://minio.internal:9000',
        STINT_RECORDINGS_S3_REGION: 'eu-central-1',
        STINT_RECORDINGS_S3_FORCE_PATH_STYLE: 'true',
      },
      '/d',
    );
    expect(c).toMatchObject({
      storage: 's3',
      s3: {
        bucket: 'acme-recordings',
        prefix: 'prod/',
        endpoint: 'https://minio.internal:9000',
        region: 'eu-central-1',
        forcePathStyle: true,
      },
    });
    expect(recordingConfigFromEnv({}, '/d').s3).toBeNull();
    expect(() => recordingConfigFromEnv({ STINT_RECORDINGS: 's3' }, '/d')).toThrow(
      /STINT_RECORDINGS_S3_BUCKET/,
    );
    expect(() =>
      recordingConfigFromEnv(
        {
          STINT_RECORDINGS: 's3',
          STINT_RECORDINGS_S3_BUCKET: 'b-1',
          STINT_RECORDINGS_S3_ENDPOINT: 'ftp://x',
        },
        '/d',
      ),
    ).toThrow(/STINT_RECORDINGS_S3_ENDPOINT/);
    expect(() => recordingConfigFromEnv({ STINT_RECORDINGS: 'nfs' }, '/d')).toThrow(/local, store or s3/);
  });
});
