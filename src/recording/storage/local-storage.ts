import { createHash } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, truncate, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  checkRecordingId,
  type RecordingStorage,
  RecordingWriteError,
  type SealedSegment,
  type SegmentRef,
} from './recording-storage.js';

const PART = '.cast.part';
const SEALED = '.cast';
const LOCK = '.writer.pid';

const segmentName = (segment: number) => String(segment).padStart(6, '0');

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Recordings in a folder of this server: `<folder>/<recording id>/<segment>.cast.part` while written, renamed to
 * `.cast` (read-only) once sealed. One process writes a folder at a time (`.writer.pid`, taken at start): so every
 * `.part` found at start was left by a writer that died, and is finalised then. Each flush opens the file, appends
 * and closes it; a seal syncs it to disk. Servers sharing a store keep their own folders (a recording plays on the
 * server that made it), or use the store-backed storage.
 */
export function createLocalStorage(folder: string): RecordingStorage {
  const dirOf = (id: string) => join(folder, checkRecordingId(id));
  const partOf = (id: string, segment: number) => join(dirOf(id), segmentName(segment) + PART);
  const sealedOf = (id: string, segment: number) => join(dirOf(id), segmentName(segment) + SEALED);
  let locked = false;

  const fail = (what: string, e: unknown) =>
    new RecordingWriteError(`${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);

  return {
    location: `local:${hostname()}:${folder}`,

    async start() {
      await mkdir(folder, { recursive: true, mode: 0o700 });
      const lock = join(folder, LOCK);
      for (let attempt = 0; attempt < 2 && !locked; attempt++) {
        try {
          await writeFile(lock, String(process.pid), { flag: 'wx', mode: 0o600 });
          locked = true;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          const holder = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
          if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && pidAlive(holder)) {
            throw new RecordingWriteError(
              `recordings folder ${folder} is written by another process (pid ${holder}): give each server its own`,
            );
          }
          // Left by a process that died (or by this one, restarted in-process): take it over.
          await unlink(lock).catch(() => {});
        }
      }
    },

    async stop() {
      if (!locked) return;
      locked = false;
      await unlink(join(folder, LOCK)).catch(() => {});
    },

    async append(recordingId, segment, data) {
      const path = partOf(recordingId, segment);
      try {
        await mkdir(dirOf(recordingId), { recursive: true, mode: 0o700 });
        const handle = await open(path, 'a', 0o600);
        try {
          await handle.write(data);
        } finally {
          await handle.close();
        }
      } catch (e) {
        throw fail(`cannot write recording ${recordingId}`, e);
      }
    },

    async seal(recordingId, segment, opts = {}): Promise<SealedSegment> {
      const part = partOf(recordingId, segment);
      const sealed = sealedOf(recordingId, segment);
      try {
        let data: Buffer;
        try {
          data = await readFile(part);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
          // Sealed already (a seal that died before its row was updated), or never written to: what is there.
          data = await readFile(sealed).catch((e2: NodeJS.ErrnoException) => {
            if (e2.code === 'ENOENT') return Buffer.alloc(0);
            throw e2;
          });
          if (data.length === 0) {
            await mkdir(dirOf(recordingId), { recursive: true, mode: 0o700 });
            await writeFile(sealed, data, { mode: 0o400, flag: 'w' }).catch(() => {});
          }
          return digest(data);
        }
        if (opts.recover) {
          const end = data.lastIndexOf(0x0a) + 1;
          if (end < data.length) {
            await truncate(part, end);
            data = data.subarray(0, end);
          }
        }
        await syncFile(part);
        await chmod(part, 0o400);
        await rename(part, sealed);
        await syncFile(dirOf(recordingId));
        return digest(data);
      } catch (e) {
        throw fail(`cannot seal recording ${recordingId} segment ${segment}`, e);
      }
    },

    async read(recordingId, segment) {
      try {
        return await readFile(sealedOf(recordingId, segment));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        return readFile(partOf(recordingId, segment)).catch((e2: NodeJS.ErrnoException) => {
          if (e2.code === 'ENOENT') return Buffer.alloc(0);
          throw e2;
        });
      }
    },

    async orphans(): Promise<SegmentRef[]> {
      const out: SegmentRef[] = [];
      const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        if (!entry.isDirectory() || !entry.name.startsWith('rec_')) continue;
        for (const file of await readdir(join(folder, entry.name))) {
          if (!file.endsWith(PART)) continue;
          const segment = Number(file.slice(0, -PART.length));
          if (Number.isInteger(segment)) out.push({ recordingId: entry.name, segment });
        }
      }
      return out;
    },
  };
}

function digest(data: Buffer): SealedSegment {
  return { sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
}

/**
 * fsync on the thread pool, not the event loop: a seal every MiB of a bulk transfer stalled every session's
 * bytes for the length of a disk flush (the proxy's profile: the largest single cost of the main thread).
 */
async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
