import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CHECKPOINT_FILE,
  CONSISTENCY_FILE,
  type ConsistencyFile,
  EXPORT_FORMAT,
  type ExportLeaf,
  encodeLine,
  MANIFEST_FILE,
  type Manifest,
  type ManifestFile,
  START_FILE,
  type StartFile,
  segmentName,
  utcDay,
} from './export-format.js';

export interface ExportInput {
  readonly origin: string;
  readonly range: {
    readonly since: Date;
    readonly until: Date;
    readonly start: number;
    readonly end: number;
  };
  /** Signed checkpoint note of size `range.end`. */
  readonly checkpoint: string;
  readonly start: StartFile;
  readonly consistency: ConsistencyFile;
  /** The events `range.start … range.end − 1` in seq order, as the server serves them. */
  readonly leaves: AsyncIterable<ExportLeaf> | Iterable<ExportLeaf>;
  readonly now: Date;
}

export class ExportDirectoryError extends Error {
  override readonly name = 'ExportDirectoryError';
}

/** Flushes to disk every this many characters: a day of events never sits in memory. */
const FLUSH_AT = 1 << 20;

class SegmentWriter {
  readonly name: string;
  readonly first: number;
  count = 0;
  bytes = 0;
  readonly #hash: Hash = createHash('sha256');
  readonly #file: FileHandle;
  #pending = '';

  private constructor(name: string, first: number, file: FileHandle) {
    this.name = name;
    this.first = first;
    this.#file = file;
  }

  static async open(dir: string, name: string, first: number): Promise<SegmentWriter> {
    // 'wx': two segments for one day (a clock going backwards past midnight) must not overwrite each other.
    return new SegmentWriter(name, first, await open(join(dir, name), 'wx', 0o644));
  }

  async add(leaf: ExportLeaf): Promise<void> {
    this.#pending += encodeLine(leaf);
    this.count++;
    if (this.#pending.length >= FLUSH_AT) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#pending === '') return;
    const chunk = Buffer.from(this.#pending, 'utf8');
    this.#pending = '';
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    await this.#file.write(chunk);
  }

  async close(): Promise<ManifestFile> {
    try {
      await this.#flush();
      await this.#file.sync();
    } finally {
      await this.#file.close();
    }
    return {
      name: this.name,
      sha256: this.#hash.digest('hex'),
      bytes: this.bytes,
      first: this.first,
      count: this.count,
    };
  }
}

function dayOfBody(body: string | null): string | null {
  if (body === null) return null;
  try {
    return utcDay((JSON.parse(body) as { time?: unknown } | null)?.time);
  } catch {
    return null;
  }
}

async function writeSmall(dir: string, name: string, text: string): Promise<ManifestFile> {
  const bytes = Buffer.from(text, 'utf8');
  await writeFile(join(dir, name), bytes, { flag: 'wx', mode: 0o644 });
  return { name, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
}

/**
 * Writes an export into `dir` (created if missing; it must be empty), streaming the events into one segment per
 * UTC day. A segment is a contiguous run of seqs, so the verifier can read the files in order: a new file starts
 * at the first event of a later day, and an event stamped a moment before midnight but committed after the next
 * day's first event stays where its seq puts it. Purged events (no body, no time) stay in the current file.
 * The manifest is written last: a directory without one is an export that did not finish.
 */
export async function writeExport(dir: string, input: ExportInput): Promise<Manifest> {
  await mkdir(dir, { recursive: true });
  const existing = await readdir(dir);
  if (existing.length > 0) {
    throw new ExportDirectoryError(`${dir} is not empty: export into a new directory`);
  }
  const files: ManifestFile[] = [];
  let current: SegmentWriter | null = null;
  let currentDay = input.range.since.toISOString().slice(0, 10);
  let events = 0;
  try {
    for await (const leaf of input.leaves) {
      const day = dayOfBody(leaf.body);
      if (current === null || (day !== null && day > currentDay)) {
        if (current) files.push(await current.close());
        current = null;
        if (day !== null && day > currentDay) currentDay = day;
        current = await SegmentWriter.open(dir, segmentName(currentDay), leaf.seq);
      }
      await current.add(leaf);
      events++;
    }
  } finally {
    if (current) files.push(await current.close());
  }
  files.push(await writeSmall(dir, CHECKPOINT_FILE, input.checkpoint));
  files.push(await writeSmall(dir, START_FILE, `${JSON.stringify(input.start, null, 2)}\n`));
  files.push(await writeSmall(dir, CONSISTENCY_FILE, `${JSON.stringify(input.consistency, null, 2)}\n`));
  const manifest: Manifest = {
    format: EXPORT_FORMAT,
    origin: input.origin,
    range: {
      since: input.range.since.toISOString(),
      until: input.range.until.toISOString(),
      start: input.range.start,
      end: input.range.end,
    },
    events,
    createdAt: input.now.toISOString(),
    files,
  };
  await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, {
    flag: 'wx',
    mode: 0o644,
  });
  return manifest;
}
