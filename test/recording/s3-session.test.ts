import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAsciicast } from '../../src/recording/asciicast.js';
import { recordingStore } from '../../src/recording/recording-store.js';
import { recordingDb } from '../../src/recording/recording-tables.js';
import { waitFor } from '../support/pg-client.js';
import { type ProxyFixture, startFixture } from './fixture.js';
import { type S3Double, startS3Double } from './s3-double.js';

/**
 * One SSH session through the real proxy and a real sshd, recorded into S3 (the local double: no real S3 runs
 * here) and played back through the application's own route, every segment checked against the audit trail.
 */
let s3: S3Double;
let f: ProxyFixture;
beforeAll(async () => {
  s3 = await startS3Double({ buckets: ['session-recordings'] });
  // The SDK's default credential chain, as a deployment has it (environment first).
  process.env.AWS_ACCESS_KEY_ID = s3.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s3.credentials.secretAccessKey;
  f = await startFixture({
    storage: 's3',
    s3: {
      bucket: 'session-recordings',
      prefix: 'rec/',
      endpoint: s3.url,
      region: s3.region,
      forcePathStyle: true,
    },
    segmentBytes: 4096,
  });
});
afterAll(async () => {
  await f?.close();
  await s3?.close();
});

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('a session recorded into S3', () => {
  it('is written to the bucket, sealed into the audit trail, and played back checked against it', async () => {
    const g = await f.grant();
    const r = await f.ssh(g.login, ['seq', '1', '3000']);
    expect(r.code, r.stderr).toBe(0);
    const db = recordingDb(f.h.stint.deps.store.db);
    const session = await waitFor(async () => {
      const [s] = await recordingStore.listSessions(db, { requestId: g.requestId, limit: 1 });
      return s?.ended_at ? s : null;
    });
    const [recording] = await recordingStore.recordingsOf(db, session.id);
    expect(recording?.state).toBe('complete');
    const location = `s3:session-recordings/rec/stint-${f.h.storeId}/`;
    expect(recording?.storage).toBe(location);
    const id = recording?.id as string;
    const segments = await recordingStore.segmentsOf(db, id);
    // ~14 KB of output in 4 KiB segments (a line longer than one is a segment of its own): several, all sealed.
    expect(segments.length).toBeGreaterThanOrEqual(2);
    expect(segments.every((s) => s.state === 'sealed')).toBe(true);

    // The bucket holds exactly the sealed segments under this deployment's prefix; every flush's chunk is gone.
    const bucket = s3.buckets.get('session-recordings') as Map<string, Buffer>;
    const keys = [...bucket.keys()].filter((k) => k.includes(id)).sort();
    expect(keys).toEqual(
      segments.map((s) => `rec/stint-${f.h.storeId}/sealed/${id}/${String(s.idx).padStart(6, '0')}.cast`),
    );
    // Written as the session ran: chunks were put before the first seal.
    const firstSeal = s3.calls.findIndex((c) => c.op === 'PutObject' && c.key.endsWith(`${id}/000000.cast`));
    expect(
      s3.calls.slice(0, firstSeal).some((c) => c.op === 'PutObject' && c.key.includes(`open/${id}/000000/`)),
    ).toBe(true);

    // Each segment's hash in the audit trail is the hash of the object the bucket keeps.
    const events = (await f.events(g.requestId)).filter(
      (e) => e.action === 'recording.segment' && e.details.recordingId === id,
    );
    expect(events).toHaveLength(segments.length);
    for (const s of segments) {
      const event = events.find((e) => e.details.segment === s.idx);
      const object = bucket.get(keys[s.idx] as string) as Buffer;
      expect(event?.details).toMatchObject({ sha256: sha(object), bytes: object.length, storage: location });
      expect(s.sha256).toBe(sha(object));
    }

    const play = () =>
      f.h.app.inject({
        method: 'GET',
        url: `/v1/recordings/${id}/cast`,
        headers: { authorization: `Bearer ${f.h.tokens.erin}` },
      });
    const played = await play();
    expect(played.statusCode).toBe(200);
    const text = keys.map((k) => (bucket.get(k) as Buffer).toString()).join('');
    expect(played.body).toBe(text);
    const output = parseAsciicast(played.body)
      .events.map((e) => e[2])
      .join('');
    expect(output).toContain('\n2999\n3000\n');

    // An object changed in the bucket (its writer, or anyone with the bucket's keys) is refused, never served.
    const victim = keys[1] as string;
    bucket.set(victim, Buffer.from((bucket.get(victim) as Buffer).toString().replace('"o","', '"o","X')));
    const refused = await play();
    expect(refused.statusCode).toBe(500);
    expect(refused.body).toMatch(/segment 1 does not match its hash in the audit trail/);
  });
});
