import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeEvent } from '../../src/audit/audit-event.js';
import { encodeLine, SEGMENT_FILE } from '../../src/audit/export/export-format.js';
import { type ExportReport, verifyExport } from '../../src/audit/export/export-verifier.js';
import { encodeBase64 } from '../../src/audit/log/base64.js';
import { leafHash } from '../../src/audit/log/merkle.js';
import { eventBody, logKey, makeLog, otherKey, writeSyntheticExport } from './export-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'stint-export-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = () => join(root, `e${dirs++}`);

const log = makeLog(120);
const keys = [logKey.verifier];

/** Every segment line of an export, with the file it is in, in log order. */
function lines(dir: string): { file: string; line: string }[] {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  return manifest.files
    .filter((f: { name: string }) => SEGMENT_FILE.test(f.name))
    .flatMap((f: { name: string }) =>
      readFileSync(join(dir, f.name), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((line) => ({ file: f.name, line })),
    );
}

/** Rewrites the segment files of `dir` from a new list of lines (each stays in the file it came from). */
function rewrite(dir: string, edited: { file: string; line: string }[]): void {
  const byFile = new Map<string, string[]>();
  for (const file of readdirSync(dir).filter((f) => SEGMENT_FILE.test(f))) byFile.set(file, []);
  for (const { file, line } of edited) byFile.get(file)?.push(line);
  for (const [file, ls] of byFile) writeFileSync(join(dir, file), ls.map((l) => `${l}\n`).join(''));
}

async function exported(start = 20, end = 100, latest = log.size): Promise<string> {
  const dir = newDir();
  await writeSyntheticExport(dir, log, start, end, latest);
  return dir;
}

function problem(report: ExportReport) {
  if (report.ok) throw new Error(`expected a problem, got ok at size ${report.size}`);
  return report.problem;
}

describe('audit export: write and verify offline', () => {
  it('writes one segment per UTC day, a manifest, and verifies with only the directory and the key', async () => {
    const dir = newDir();
    const manifest = await writeSyntheticExport(dir, log, 20, 100);
    // Events every hour from 2025-03-01T20:00Z: seqs 20..99 span 2025-03-02 .. 2025-03-05.
    const segments = manifest.files.filter((f) => f.count !== undefined);
    expect(segments.map((f) => f.name)).toEqual([
      'events-2025-03-02.jsonl',
      'events-2025-03-03.jsonl',
      'events-2025-03-04.jsonl',
      'events-2025-03-05.jsonl',
    ]);
    expect(segments.map((f) => f.first)).toEqual([20, 28, 52, 76]);
    expect(segments.reduce((n, f) => n + (f.count ?? 0), 0)).toBe(80);
    expect(manifest).toMatchObject({
      format: 'stint-audit-export/1',
      origin: 'stint.test/audit',
      events: 80,
    });
    expect(manifest.range).toMatchObject({ start: 20, end: 100 });
    expect(manifest.files.map((f) => f.name).slice(-3)).toEqual([
      'checkpoint.txt',
      'start.json',
      'consistency.json',
    ]);
    expect(readdirSync(dir).sort()).toEqual([...manifest.files.map((f) => f.name), 'manifest.json'].sort());
    // Each line is { seq, body, leafHash } with the exact canonical body.
    const first = JSON.parse(lines(dir)[0]?.line ?? '');
    expect(Object.keys(first)).toEqual(['seq', 'body', 'leafHash']);
    expect(first.body).toBe(encodeEvent(eventBody(20, log.times[20] as Date)));

    const report = await verifyExport(dir, { keys });
    expect(report).toMatchObject({ ok: true, start: 20, size: 100, events: 80, eventsRead: 80 });
    if (report.ok) {
      expect(report.latest.size).toBe(120);
      expect(report.checkpoints[0]?.signedBy).toEqual([
        `${logKey.name}+${logKey.keyId.toString(16).padStart(8, '0')}`,
      ]);
    }
  });

  it('verifies exports from the first event, up to the newest checkpoint, and empty ones', async () => {
    expect(await verifyExport(await exported(0, 120), { keys })).toMatchObject({
      ok: true,
      start: 0,
      size: 120,
    });
    expect(await verifyExport(await exported(0, 1), { keys })).toMatchObject({ ok: true, events: 1 });
    expect(await verifyExport(await exported(37, 37), { keys })).toMatchObject({
      ok: true,
      events: 0,
      size: 37,
    });
  });

  it('gives the same answers with hashing worker threads', async () => {
    const dir = await exported();
    expect(await verifyExport(dir, { keys, workers: 2 })).toMatchObject({ ok: true, size: 100, events: 80 });
    const ls = lines(dir);
    rewrite(dir, [...ls.slice(0, 30), ...ls.slice(31)]);
    expect(problem(await verifyExport(dir, { keys, workers: 2 }))).toMatchObject({
      code: 'REMOVED',
      index: 50,
    });
  });

  it('keeps a straggler stamped before midnight in the file its seq puts it in', async () => {
    // seq 29 is stamped on 2025-03-02 though seq 28 already is on 2025-03-03.
    const straggler = makeLog(40, {
      timeOf: (seq, t) => (seq === 29 ? new Date('2025-03-02T23:59:59Z') : t),
    });
    const dir = newDir();
    const manifest = await writeSyntheticExport(dir, straggler, 0, 40);
    const third = manifest.files.find((f) => f.name === 'events-2025-03-03.jsonl');
    expect(third).toMatchObject({ first: 28, count: 12 });
    expect(await verifyExport(dir, { keys })).toMatchObject({ ok: true, size: 40 });
  });

  it('verifies events purged by retention by their leaf hashes', async () => {
    const purged = makeLog(60, { purgedBelow: 30 });
    const dir = newDir();
    await writeSyntheticExport(dir, purged, 10, 50);
    expect(lines(dir)[0]?.line).toMatch(/^\{"seq":10,"body":null,"leafHash":"/);
    expect(await verifyExport(dir, { keys })).toMatchObject({ ok: true, events: 40 });
  });

  it('a body gone without a recorded purge covering it is ERASED', async () => {
    const erased = makeLog(60, { purgedBelow: 30, purgeEventAt: -1 });
    const dir = newDir();
    await writeSyntheticExport(dir, erased, 10, 50);
    expect(await verifyExport(dir, { keys })).toMatchObject({
      ok: false,
      problem: { code: 'ERASED', index: 10 },
    });
  });

  it('accepts either key of a rotation when the checkpoints carry both signatures', async () => {
    const dir = newDir();
    await writeSyntheticExport(dir, log, 20, 100, log.size, [logKey, otherKey]);
    expect(await verifyExport(dir, { keys: [logKey.verifier] })).toMatchObject({ ok: true });
    expect(await verifyExport(dir, { keys: [otherKey.verifier] })).toMatchObject({ ok: true });
  });
});

describe('audit export: tampering is found and located', () => {
  it('a byte changed in an event: CHANGED at that event', async () => {
    const dir = await exported();
    const ls = lines(dir);
    const i = 41 - 20;
    ls[i] = { file: ls[i]?.file ?? '', line: (ls[i]?.line ?? '').replace('ok 41', 'ok 4l') };
    rewrite(dir, ls);
    expect(problem(await verifyExport(dir, { keys }))).toMatchObject({ code: 'CHANGED', index: 41 });
  });

  it('an event changed with its leaf hash recomputed: ROOT_MISMATCH from the start of the export', async () => {
    const dir = await exported();
    const ls = lines(dir);
    const i = 41 - 20;
    const body = encodeEvent({ ...eventBody(41, log.times[41] as Date), actor: 'mallory' });
    ls[i] = {
      file: ls[i]?.file ?? '',
      line: encodeLine({ seq: 41, body, leafHash: encodeBase64(leafHash(body)) }).trimEnd(),
    };
    rewrite(dir, ls);
    expect(problem(await verifyExport(dir, { keys }))).toMatchObject({
      code: 'ROOT_MISMATCH',
      index: 20,
      checkpointSize: 100,
      message: expect.stringMatching(/^events 20\.\.99 do not hash/),
    });
  });

  it('a line removed: REMOVED at the missing event', async () => {
    const dir = await exported();
    const ls = lines(dir);
    rewrite(dir, [...ls.slice(0, 25), ...ls.slice(26)]);
    expect(problem(await verifyExport(dir, { keys }))).toMatchObject({ code: 'REMOVED', index: 45 });
  });

  it('the last line removed: MISSING', async () => {
    const dir = await exported();
    rewrite(dir, lines(dir).slice(0, -1));
    expect(problem(await verifyExport(dir, { keys }))).toMatchObject({ code: 'MISSING', index: 99 });
  });

  it('two lines swapped: REORDERED at the first one out of place', async () => {
    const dir = await exported();
    const ls = lines(dir);
    const [a, b] = [ls[10], ls[11]] as [{ file: string; line: string }, { file: string; line: string }];
    ls[10] = { file: a.file, line: b.line };
    ls[11] = { file: b.file, line: a.line };
    rewrite(dir, ls);
    expect(problem(await verifyExport(dir, { keys }))).toMatchObject({ code: 'REORDERED', index: 30 });
  });

  it('two bodies swapped under their original seq and hash fields: REORDERED too (seq is inside the body)', async () => {
    const dir = await exported();
    const ls = lines(dir).map((l) => ({ ...l, parsed: JSON.parse(l.line) }));
    const a = ls[10]?.parsed;
    const b = ls[11]?.parsed;
    [a.body, b.body] = [b.body, a.body];
    rewrite(
      dir,
      ls.map((l) => ({ file: l.file, line: JSON.stringify(l.parsed) })),
    );
    expect(problem(await verifyExport(dir, { keys }))).toMatchObject({ code: 'REORDERED', index: 30 });
  });

  it('a line that is not an event: MALFORMED where it stands', async () => {
    const dir = await exported();
    const ls = lines(dir);
    ls[5] = { file: ls[5]?.file ?? '', line: '{"seq":25,' };
    rewrite(dir, ls);
    expect(problem(await verifyExport(dir, { keys }))).toMatchObject({ code: 'MALFORMED', index: 25 });
  });

  it('checked with another key: BAD_SIGNATURE', async () => {
    const dir = await exported();
    expect(problem(await verifyExport(dir, { keys: [otherKey.verifier] }))).toMatchObject({
      code: 'BAD_SIGNATURE',
    });
  });

  it('checkpoint.txt re-signed by another key: BAD_SIGNATURE', async () => {
    const dir = await exported();
    writeFileSync(join(dir, 'checkpoint.txt'), log.checkpoint(100, [otherKey]));
    expect(problem(await verifyExport(dir, { keys }))).toMatchObject({ code: 'BAD_SIGNATURE' });
  });

  it('checkpoint.txt replaced with an older one: the later events are not covered', async () => {
    const dir = await exported();
    writeFileSync(join(dir, 'checkpoint.txt'), log.checkpoint(70));
    expect(problem(await verifyExport(dir, { keys }))).toMatchObject({
      code: 'NO_CHECKPOINT',
      index: 70,
      checkpointSize: 70,
    });
    // Older than the whole export: nothing in it is covered.
    writeFileSync(join(dir, 'checkpoint.txt'), log.checkpoint(10));
    expect(problem(await verifyExport(dir, { keys }))).toMatchObject({ code: 'NO_CHECKPOINT' });
  });

  it('start.json changed: ROOT_MISMATCH', async () => {
    const dir = await exported();
    const start = JSON.parse(readFileSync(join(dir, 'start.json'), 'utf8'));
    start.hashes[0] = encodeBase64(leafHash('not the first subtree'));
    writeFileSync(join(dir, 'start.json'), JSON.stringify(start));
    expect(problem(await verifyExport(dir, { keys }))).toMatchObject({
      code: 'ROOT_MISMATCH',
      checkpointSize: 100,
    });
  });

  it('a newer checkpoint that does not extend the exported one: FORK', async () => {
    const dir = await exported();
    const forked = makeLog(120, { variantFrom: 60 });
    const consistency = {
      old: 100,
      new: 120,
      proof: forked.consistency(100, 120),
      newCheckpoint: forked.checkpoint(120),
    };
    writeFileSync(join(dir, 'consistency.json'), JSON.stringify(consistency));
    expect(problem(await verifyExport(dir, { keys }))).toMatchObject({ code: 'FORK', checkpointSize: 120 });
  });

  it('a file that differs from the manifest though its events still verify: MALFORMED', async () => {
    const dir = await exported();
    const ls = lines(dir);
    // Same event, other spelling of the line: the proof holds, the copy is not the one exported.
    ls[3] = {
      file: ls[3]?.file ?? '',
      line: JSON.stringify(JSON.parse(ls[3]?.line ?? ''), null, 0).replace('{', '{ '),
    };
    rewrite(dir, ls);
    const p = problem(await verifyExport(dir, { keys }));
    expect(p.code).toBe('MALFORMED');
    expect(p.message).toMatch(/does not match the SHA-256 in manifest.json/);
  });

  it('a missing file or manifest: MALFORMED, naming it', async () => {
    const dir = await exported();
    rmSync(join(dir, 'manifest.json'));
    expect(problem(await verifyExport(dir, { keys })).message).toMatch(/manifest.json is missing/);
    const other = await exported();
    rmSync(join(other, 'events-2025-03-03.jsonl'));
    expect(problem(await verifyExport(other, { keys }))).toMatchObject({ code: 'MALFORMED', index: 28 });
  });
});
