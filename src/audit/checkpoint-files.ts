import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The checkpoint directory (copied to WORM storage): one file per signed checkpoint, written once and never
 * replaced. A synced bucket keeps whatever a file last said, so replacing one would make a forged checkpoint
 * the "latest" copy; a file that exists already is compared, never overwritten.
 */

export const checkpointFileName = (size: number): string =>
  `checkpoint-${String(size).padStart(12, '0')}.txt`;

const FILE = /^checkpoint-(\d+)\.txt$/;

/** The checkpoint body of a note: everything up to the blank line before the signatures. */
export const noteBody = (note: string): string => {
  const end = note.indexOf('\n\n');
  return end < 0 ? note : note.slice(0, end + 1);
};

export type WriteOnceResult =
  | { outcome: 'written' | 'present' }
  /** A file of this size holds another checkpoint: the log forked. The file is left as it was. */
  | { outcome: 'conflict'; existing: string };

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `note` as the file of its size, durably, only if no file of that size exists: the note goes to a
 * temporary name (fsync'd), then a hard link gives it its final name, which fails on an existing name where a
 * rename would replace it. An existing file with the same checkpoint (a re-signing of the same size and root,
 * e.g. during a key rotation) is left alone; one with another checkpoint is a conflict.
 */
export async function writeCheckpointOnce(dir: string, size: number, note: string): Promise<WriteOnceResult> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, checkpointFileName(size));
  // Dot-named and ending in .tmp: never read as a checkpoint, and excluded by `aws s3 sync --exclude '*.tmp'`.
  const tmp = join(dir, `.${checkpointFileName(size)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', 0o644);
  try {
    try {
      await handle.writeFile(note, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(tmp, file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const existing = await readFile(file, 'utf8');
      return noteBody(existing) === noteBody(note)
        ? { outcome: 'present' }
        : { outcome: 'conflict', existing };
    }
    await syncDir(dir);
    return { outcome: 'written' };
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/** The note of size `size` in the directory, if there is one. */
export async function readCheckpointFile(dir: string, size: number): Promise<string | null> {
  try {
    return await readFile(join(dir, checkpointFileName(size)), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * The checkpoint files, largest size first, read lazily: the caller stops at the first it trusts, so a folder
 * of years of checkpoints costs one directory listing and a file or two.
 */
export function* checkpointFilesNewestFirst(
  dir: string | null,
): Generator<{ size: number; note: string; modifiedAt: Date }> {
  if (!dir) return;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const files = names
    .map((name) => ({ name, match: FILE.exec(name) }))
    .filter((f): f is { name: string; match: RegExpExecArray } => f.match !== null)
    .map((f) => ({ name: f.name, size: Number(f.match[1]) }))
    .sort((a, b) => b.size - a.size);
  for (const f of files) {
    const path = join(dir, f.name);
    yield { size: f.size, note: readFileSync(path, 'utf8'), modifiedAt: statSync(path).mtime };
  }
}
