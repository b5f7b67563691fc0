import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkpointFilesNewestFirst, writeCheckpointOnce } from '../../src/audit/checkpoint-files.js';
import { signCheckpoint } from '../../src/audit/log/checkpoint.js';
import { generateNoteKey, parseSkey } from '../../src/audit/log/signed-note.js';

const origin = 'stint.example.com/audit';
const key = parseSkey(generateNoteKey(origin).skey);
const rotated = parseSkey(generateNoteKey(origin).skey);
const note = (size: number, fill: number, keys = [key]) =>
  signCheckpoint({ origin, size, rootHash: new Uint8Array(32).fill(fill) }, keys);

describe('the WORM checkpoint folder', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const folder = () => {
    const d = mkdtempSync(join(tmpdir(), 'stint-worm-'));
    dirs.push(d);
    return join(d, 'checkpoints');
  };

  it('writes each size once: the same checkpoint again is left alone, another one is a conflict', async () => {
    const dir = folder();
    expect(await writeCheckpointOnce(dir, 8, note(8, 1))).toEqual({ outcome: 'written' });
    const file = join(dir, 'checkpoint-000000000008.txt');
    expect(readFileSync(file, 'utf8')).toBe(note(8, 1));
    // Re-signed by both keys during a rotation: the same checkpoint, the first file stays.
    expect(await writeCheckpointOnce(dir, 8, note(8, 1, [key, rotated]))).toEqual({ outcome: 'present' });
    const forked = await writeCheckpointOnce(dir, 8, note(8, 2));
    expect(forked).toEqual({ outcome: 'conflict', existing: note(8, 1) });
    expect(readFileSync(file, 'utf8')).toBe(note(8, 1));
    // No temporary file is left behind, whatever the outcome.
    expect(readdirSync(dir)).toEqual(['checkpoint-000000000008.txt']);
  });

  it('lists checkpoint files largest first, ignoring other names', async () => {
    const dir = folder();
    await writeCheckpointOnce(dir, 6, note(6, 1));
    await writeCheckpointOnce(dir, 1200, note(1200, 1));
    await writeCheckpointOnce(dir, 80, note(80, 1));
    writeFileSync(join(dir, 'notes.txt'), 'not a checkpoint');
    expect([...checkpointFilesNewestFirst(dir)].map((f) => f.size)).toEqual([1200, 80, 6]);
    expect([...checkpointFilesNewestFirst(join(dir, 'absent'))]).toEqual([]);
    expect([...checkpointFilesNewestFirst(null)]).toEqual([]);
  });
});
