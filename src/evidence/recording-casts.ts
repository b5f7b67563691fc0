import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CAST_FILE, castFileName, type SessionEntry } from './recording-section.js';

/**
 * The recordings' bytes a pack carries (`--with-recordings`): each `recordings/<rec>/<segment>.cast` must be a
 * sealed segment whose `recording.segment` event is in the pack, and hash to exactly the SHA-256 and size that
 * event holds. The events are verified against the signed checkpoint first, so a file passing here is the
 * segment the proxy sealed. A pack without the bytes has no such files (the hashes alone are in recordings.json).
 * Answers how many files were checked; throws naming the first that fails.
 */
export async function checkCasts(dir: string, sessions: readonly SessionEntry[]): Promise<number> {
  const sealed = new Map<string, { sha256: string; bytes: number }>();
  for (const s of sessions)
    for (const r of s.recordings)
      for (const g of r.segments) sealed.set(castFileName(r.recordingId, g.segment), g);
  const files: string[] = [];
  const top = await readdir(join(dir, 'recordings'), { withFileTypes: true }).catch(() => []);
  for (const entry of top) {
    if (!entry.isDirectory()) throw new Error(`recordings/${entry.name} is not a recording's folder`);
    for (const name of await readdir(join(dir, 'recordings', entry.name)))
      files.push(`recordings/${entry.name}/${name}`);
  }
  for (const file of files.sort()) {
    if (!CAST_FILE.test(file)) throw new Error(`${file} is not a recording segment's file`);
    const expected = sealed.get(file);
    if (!expected)
      throw new Error(`${file} is no segment sealed in the period: no recording.segment event names it`);
    const data = await readFile(join(dir, file));
    const sha256 = createHash('sha256').update(data).digest('hex');
    if (sha256 !== expected.sha256 || data.length !== expected.bytes) {
      throw new Error(
        `${file} does not match its recording.segment event (sha256 ${sha256.slice(0, 12)}…, ${data.length} bytes; the event says ${expected.sha256.slice(0, 12)}…, ${expected.bytes} bytes)`,
      );
    }
  }
  return files.length;
}

/** What verify reports of the recordings: sessions, recordings, sealed segments, verdicts, segment files checked. */
export function recordingSummary(sessions: readonly SessionEntry[], casts: number) {
  const recordings = sessions.flatMap((s) => s.recordings);
  return {
    sessions: sessions.length,
    recordings: recordings.length,
    segments: recordings.reduce((n, r) => n + r.segments.length, 0),
    verdicts: sessions.filter((s) => s.review.verdict !== null).length,
    casts,
  };
}
