import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signCheckpoint } from '../../src/audit/log/checkpoint.js';
import { packChunk } from '../../src/audit/log/chunk.js';
import { createHashPool, type HashPool } from '../../src/audit/log/hash-pool.js';
import { canonicalize } from '../../src/audit/log/jcs.js';
import { createMemoryTreeStore } from '../../src/audit/log/memory-tree-store.js';
import { leafHash, rootPlan } from '../../src/audit/log/merkle.js';
import { verifyLogParallel } from '../../src/audit/log/parallel-verifier.js';
import { generateNoteKey, parseSkey } from '../../src/audit/log/signed-note.js';
import { consistencyProof } from '../../src/audit/log/tree-store.js';
import { createLogVerifier, verifyLog } from '../../src/audit/log/verifier.js';
import type { LeafRecord, VerifyOptions, VerifyReport } from '../../src/audit/log/verify-types.js';

const origin = 'stint.example.com/audit';
const logKey = parseSkey(generateNoteKey(origin).skey);

function event(seq: number, variant = ''): string {
  return canonicalize({
    seq,
    action: 'grant.issued',
    actor: `user${seq % 7}@example.com`,
    target: { resource: 'db-prod', role: 'readonly' },
    requestId: `req_${seq}${variant}`,
    at: `2025-01-01T00:00:${String(seq % 60).padStart(2, '0')}.000Z`,
  });
}

/** A log of n events, its tree, and signed checkpoints on demand. */
function makeLog(n: number, variant: (seq: number) => string = () => '') {
  const events = Array.from({ length: n }, (_, i) => event(i, variant(i)));
  const leaves = events.map((e) => leafHash(e));
  const store = createMemoryTreeStore(leaves);
  const records: LeafRecord[] = events.map((data, index) => ({ index, data, leafHash: leaves[index] }));
  const checkpoint = (size: number, signers = [logKey]) =>
    signCheckpoint({ origin, size, rootHash: store.rootAt(size) }, signers);
  return { events, leaves, store, records, checkpoint };
}

const log = makeLog(100);
const options = (checkpoints: string[], extra: Partial<VerifyOptions> = {}): VerifyOptions => ({
  origin,
  keys: [logKey.verifier],
  checkpoints,
  ...extra,
});
const standard = () => options([log.checkpoint(10), log.checkpoint(64), log.checkpoint(100)]);

type Verify = (
  events: Iterable<LeafRecord> | AsyncIterable<LeafRecord>,
  o: VerifyOptions,
) => Promise<VerifyReport>;

let pool: HashPool;
beforeAll(() => {
  pool = createHashPool(2);
});
afterAll(async () => {
  await pool.close();
});

const drivers: [string, Verify][] = [
  ['sequential', verifyLog],
  // Tiny chunks so chunk boundaries, checkpoint cuts and out-of-order completion are all exercised.
  ['2 worker threads', (events, o) => verifyLogParallel(events, { ...o, pool, chunkSize: 4 })],
  ['pool of 0 (in thread)', (events, o) => verifyLogParallel(events, { ...o, workers: 0, chunkSize: 8 })],
];

function problem(report: VerifyReport) {
  if (report.ok) throw new Error(`expected a problem, got ok at size ${report.size}`);
  return report.problem;
}

describe.each(drivers)('offline verifier (%s)', (_, verify) => {
  it('verifies a clean log up to its last checkpoint', async () => {
    const report = await verify(log.records, standard());
    expect(report).toMatchObject({
      ok: true,
      size: 100,
      checkpointsMatched: 3,
      eventsRead: 100,
      unanchored: 0,
    });
    if (report.ok)
      expect(report.checkpoints[0]?.signedBy).toEqual([
        `${origin}+${logKey.keyId.toString(16).padStart(8, '0')}`,
      ]);
  });

  it('counts events past the last checkpoint as unanchored, from an async stream', async () => {
    async function* stream() {
      yield* log.records;
    }
    const report = await verify(stream(), options([log.checkpoint(64)]));
    expect(report).toMatchObject({ ok: true, size: 64, unanchored: 36, eventsRead: 100 });
  });

  it('CHANGED: one byte of one event changed, leaf hash as recorded', async () => {
    const records = [...log.records];
    const original = records[37] as LeafRecord;
    records[37] = { ...original, data: (original.data as string).replace('grant.issued', 'grant.issueD') };
    expect(problem(await verify(records, standard()))).toMatchObject({ code: 'CHANGED', index: 37 });
  });

  it('ROOT_MISMATCH: event and its recorded leaf hash both rewritten', async () => {
    const records = [...log.records];
    const data = event(37, '-forged');
    records[37] = { index: 37, data, leafHash: leafHash(data) };
    expect(problem(await verify(records, standard()))).toMatchObject({
      code: 'ROOT_MISMATCH',
      index: 10,
      checkpointSize: 64,
    });
  });

  it('REMOVED: a deleted row', async () => {
    const records = log.records.filter((r) => r.index !== 50);
    expect(problem(await verify(records, standard()))).toMatchObject({ code: 'REMOVED', index: 50 });
    const several = log.records.filter((r) => r.index < 50 || r.index > 52);
    expect(problem(await verify(several, standard()))).toMatchObject({ code: 'REMOVED', index: 50 });
  });

  it('REORDERED: two rows swapped, next to each other or far apart', async () => {
    for (const [a, b] of [
      [20, 21],
      [20, 70],
    ] as const) {
      const records = [...log.records];
      [records[a], records[b]] = [records[b] as LeafRecord, records[a] as LeafRecord];
      expect(problem(await verify(records, standard()))).toMatchObject({ code: 'REORDERED', index: a });
    }
  });

  it('INSERTED: an extra row claiming an existing index', async () => {
    const records = [...log.records];
    records.splice(31, 0, { index: 30, data: event(30, '-extra'), leafHash: null });
    expect(problem(await verify(records, standard()))).toMatchObject({ code: 'INSERTED', index: 31 });
  });

  it('MISSING: the table rolled back to an older state than a signed checkpoint', async () => {
    const report = await verify(log.records.slice(0, 80), standard());
    expect(problem(report)).toMatchObject({ code: 'MISSING', index: 80, checkpointSize: 100 });
  });

  it('BAD_SIGNATURE: a checkpoint by an unknown key, or with a changed byte', async () => {
    const stranger = parseSkey(generateNoteKey(origin).skey);
    const foreign = log.checkpoint(64, [stranger]);
    expect(problem(await verify(log.records, options([log.checkpoint(10), foreign])))).toMatchObject({
      code: 'BAD_SIGNATURE',
    });
    const tampered = log.checkpoint(64).replace('\n64\n', '\n63\n');
    expect(problem(await verify(log.records, options([tampered])))).toMatchObject({ code: 'BAD_SIGNATURE' });
  });

  it("WRONG_ORIGIN: our key's signature over another log's checkpoint", async () => {
    const verifierForOtherLog = { ...options([log.checkpoint(64)]), origin: 'other.example/log' };
    expect(problem(await verify(log.records, verifierForOtherLog))).toMatchObject({ code: 'WRONG_ORIGIN' });
  });

  it('ROOT_MISMATCH: a validly signed checkpoint the events do not reproduce', async () => {
    const bogus = signCheckpoint({ origin, size: 64, rootHash: leafHash('bogus') }, [logKey]);
    expect(problem(await verify(log.records, options([log.checkpoint(10), bogus])))).toMatchObject({
      code: 'ROOT_MISMATCH',
      index: 10,
      checkpointSize: 64,
    });
  });

  it('FORK: two signed checkpoints of one size with different roots', async () => {
    const rewritten = makeLog(100, (seq) => (seq >= 80 ? '-rewritten' : ''));
    const report = await verify(log.records, options([log.checkpoint(100), rewritten.checkpoint(100)]));
    expect(problem(report)).toMatchObject({ code: 'FORK', checkpointSize: 100 });
  });

  it('FORK: rolled back to 80 and regrown; the events match the newer checkpoint, not the older', async () => {
    const regrown = makeLog(120, (seq) => (seq >= 80 ? '-after-rollback' : ''));
    const report = await verify(regrown.records, options([log.checkpoint(100), regrown.checkpoint(120)]));
    expect(problem(report)).toMatchObject({ code: 'FORK', index: 0, checkpointSize: 100 });
  });

  it('FORK: a consistency proof between two checkpoints that does not verify', async () => {
    const regrown = makeLog(120, (seq) => (seq >= 80 ? '-after-rollback' : ''));
    const proof = consistencyProof(100, 120, regrown.store);
    const report = await verify(
      log.records,
      options([log.checkpoint(100), regrown.checkpoint(120)], {
        consistencyProofs: [{ oldSize: 100, newSize: 120, proof }],
      }),
    );
    expect(problem(report)).toMatchObject({ code: 'FORK', checkpointSize: 120 });
    // And a genuine proof passes.
    const longer = makeLog(120);
    const good = await verify(
      longer.records,
      options([longer.checkpoint(100), longer.checkpoint(120)], {
        consistencyProofs: [{ oldSize: 100, newSize: 120, proof: consistencyProof(100, 120, longer.store) }],
      }),
    );
    expect(good).toMatchObject({ ok: true, size: 120 });
  });

  it('NO_CHECKPOINT: nothing signed covers the events', async () => {
    expect(problem(await verify(log.records, options([])))).toMatchObject({ code: 'NO_CHECKPOINT' });
  });

  it('reports the first problem in log order', async () => {
    const records = log.records.filter((r) => r.index !== 50);
    const original = records[12] as LeafRecord;
    records[12] = { ...original, data: `${original.data} ` };
    expect(problem(await verify(records, standard()))).toMatchObject({ code: 'CHANGED', index: 12 });
  });

  it('purged payloads verify by their recorded leaf hash; a row with neither is MALFORMED', async () => {
    const purged = log.records.map((r) =>
      r.index < 40 ? { index: r.index, data: null, leafHash: r.leafHash } : r,
    );
    expect(await verify(purged, standard())).toMatchObject({ ok: true, size: 100 });
    const broken = [...log.records];
    broken[5] = { index: 5, data: null, leafHash: null };
    expect(problem(await verify(broken, standard()))).toMatchObject({ code: 'MALFORMED', index: 5 });
  });

  it('starts part-way from a frontier (an export --since), authenticated by the later root', async () => {
    // What an exporter reads from its store: the frontier nodes of the first 50 leaves.
    const nodes = rootPlan(50).map((node) => log.store.hashOf(node));
    const start = { size: 50, hashes: nodes };
    const tail = log.records.slice(50);
    expect(
      await verify(tail, options([log.checkpoint(10), log.checkpoint(64), log.checkpoint(100)], { start })),
    ).toMatchObject({
      ok: true,
      size: 100,
      checkpointsMatched: 2,
    });
    const wrong = {
      size: 50,
      hashes: [nodes[0] as Uint8Array, nodes[2] as Uint8Array, nodes[1] as Uint8Array],
    };
    expect(problem(await verify(tail, options([log.checkpoint(64)], { start: wrong })))).toMatchObject({
      code: 'ROOT_MISMATCH',
      checkpointSize: 64,
    });
    const misshapen = { size: 50, hashes: nodes.slice(1) };
    expect(problem(await verify(tail, options([log.checkpoint(64)], { start: misshapen })))).toMatchObject({
      code: 'MALFORMED',
    });
  });

  it('key rotation: old checkpoints by the old key, later ones by both; verifies with both keys trusted', async () => {
    const newKey = parseSkey(generateNoteKey(origin).skey);
    const checkpoints = [
      log.checkpoint(10),
      log.checkpoint(64, [logKey, newKey]),
      log.checkpoint(100, [newKey]),
    ];
    const report = await verify(log.records, {
      origin,
      keys: [logKey.verifier, newKey.verifier],
      checkpoints,
    });
    expect(report).toMatchObject({ ok: true, size: 100 });
    // Trusting only the new key, the checkpoint the old key alone signed proves nothing.
    const onlyNew = await verify(log.records, { origin, keys: [newKey.verifier], checkpoints });
    expect(problem(onlyNew)).toMatchObject({ code: 'BAD_SIGNATURE' });
  });
});

describe('hash pool', () => {
  it('a task that fails in a worker rejects with WORKER_FAILED, and the pool keeps working', async () => {
    const broken = { ...packChunk(0, [{ data: 'x' }]), start: -1 };
    await expect(pool.run(broken)).rejects.toMatchObject({ code: 'WORKER_FAILED' });
    const ok = await pool.run(packChunk(0, [{ data: 'x' }]));
    expect(Buffer.from(ok.hashes).equals(Buffer.from(leafHash('x')))).toBe(true);
  });

  it('a closed pool refuses work', async () => {
    const own = createHashPool(1);
    await own.close();
    await expect(own.run(packChunk(0, [{ data: 'x' }]))).rejects.toMatchObject({ code: 'WORKER_FAILED' });
  });
});

describe('incremental verifier', () => {
  it('stops asking for input once the outcome is known', () => {
    const verifier = createLogVerifier(standard());
    const records = [...log.records];
    records[3] = { ...(records[3] as LeafRecord), data: 'changed' };
    let pushed = 0;
    for (const r of records) {
      pushed++;
      if (!verifier.push(r)) break;
    }
    expect(pushed).toBe(4);
    expect(verifier.finish()).toMatchObject({ ok: false, problem: { code: 'CHANGED', index: 3 } });
  });
});
