import { join } from 'node:path';
import {
  checkpointFileName,
  checkpointFilesNewestFirst,
  readCheckpointFile,
  writeCheckpointOnce,
} from './checkpoint-files.js';
import { encodeBase64 } from './log/base64.js';
import { openCheckpoint } from './log/checkpoint.js';
import type { NoteVerifier } from './log/signed-note.js';
import { AuditTrailBroken } from './trail-health.js';

/** A checkpoint this server knows was signed, whatever the store says now. */
export interface KnownCheckpoint {
  size: number;
  rootHash: Uint8Array;
  note: string;
  /** Where it was learnt: said in every alert, so the operator knows which copy to compare. */
  source: 'the WORM folder' | 'this server' | 'the store';
  createdAt: Date;
}

const short = (root: Uint8Array) => `${encodeBase64(root).slice(0, 12)}…`;
const sameRoot = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/**
 * The newest checkpoint known to be signed: the newest one in the WORM folder (read once, at the first check)
 * and every one signed or seen since, kept in memory. A store rolled back or regrown under the server cannot
 * take it back, so comparing the store with it at start and at every build turn catches both.
 */
export function createCheckpointAnchor(opts: {
  dir: string | null;
  origin: string;
  keys: readonly NoteVerifier[];
}) {
  let newest: KnownCheckpoint | null = null;
  // The newest one held outside the store (the WORM folder's, or signed here): what signing may build on.
  let trusted: KnownCheckpoint | null = null;
  let loaded = false;
  // The store's newest note is seen on every build turn: its signature is checked once, not four times a second.
  let lastObserved: string | null = null;

  function opened(note: string): { size: number; rootHash: Uint8Array } | null {
    try {
      return openCheckpoint(note, opts.keys, opts.origin).checkpoint;
    } catch {
      return null;
    }
  }

  function consider(note: string, source: KnownCheckpoint['source'], createdAt: Date): void {
    const cp = opened(note);
    if (!cp) return;
    const known = { ...cp, note, source, createdAt };
    if (newest === null || cp.size > newest.size) newest = known;
    if (source !== 'the store' && (trusted === null || cp.size > trusted.size)) trusted = known;
  }

  function load(): void {
    if (loaded) return;
    loaded = true;
    // Files this server cannot open (another log's, or signed only by a retired key) anchor nothing.
    for (const file of checkpointFilesNewestFirst(opts.dir)) {
      if (opened(file.note)) {
        consider(file.note, 'the WORM folder', file.modifiedAt);
        return;
      }
    }
  }

  return {
    newest(): KnownCheckpoint | null {
      load();
      return newest;
    },

    /**
     * The newest checkpoint this server holds outside the store: one it signed, or the WORM folder's newest.
     * Progress the store claims beyond it (its tree, its checkpoints) is re-checked before anything is signed.
     */
    trusted(): KnownCheckpoint | null {
      load();
      return trusted;
    },

    /** A checkpoint read from the store: the store may have held more before it was rolled back. */
    observe(note: string, now: Date): void {
      load();
      if (note === lastObserved) return;
      lastObserved = note;
      consider(note, 'the store', now);
    },

    /**
     * Throws `ROLLBACK` when the store holds fewer events than the newest known checkpoint, `FORK` when its
     * tree (built up to `built`) has another root at that size.
     */
    async check(head: number, built: number, rootAt: (size: number) => Promise<Uint8Array>): Promise<void> {
      load();
      const known = newest;
      if (!known) return;
      if (head < known.size) {
        throw new AuditTrailBroken(
          'ROLLBACK',
          `the audit store holds ${head} events but checkpoint ${known.size} (in ${known.source}) was signed: ` +
            'the store was rolled back; restore it to a state at least as new',
        );
      }
      if (built < known.size) return;
      const root = await rootAt(known.size);
      if (!sameRoot(root, known.rootHash)) {
        throw new AuditTrailBroken(
          'FORK',
          `the audit store's tree at size ${known.size} has root ${short(root)} but checkpoint ${known.size} ` +
            `(in ${known.source}) signed ${short(known.rootHash)}: the store was rolled back and regrown (a fork)`,
        );
      }
    },

    /** Before signing at `size`: a WORM file of that size with another checkpoint means a fork. */
    async beforeSign(size: number, rootHash: Uint8Array): Promise<void> {
      if (!opts.dir) return;
      const existing = await readCheckpointFile(opts.dir, size);
      const cp = existing === null ? null : opened(existing);
      if (existing !== null && (!cp || !sameRoot(cp.rootHash, rootHash))) {
        throw new AuditTrailBroken(
          'FORK',
          `the WORM folder already holds another checkpoint ${size} than the store's (${short(rootHash)}): ` +
            'refusing to sign a fork',
        );
      }
    },

    /** After signing: the file is written once (a conflict is a fork, reported) and becomes the anchor. */
    async record(size: number, note: string, createdAt: Date): Promise<string | null> {
      load();
      consider(note, 'this server', createdAt);
      if (!opts.dir) return null;
      const written = await writeCheckpointOnce(opts.dir, size, note);
      if (written.outcome === 'conflict') {
        throw new AuditTrailBroken(
          'FORK',
          `checkpoint ${size} was signed but the WORM folder already holds another checkpoint ${size}: ` +
            'the file was left as it was',
        );
      }
      return written.outcome === 'written' ? join(opts.dir, checkpointFileName(size)) : null;
    },
  };
}

export type CheckpointAnchor = ReturnType<typeof createCheckpointAnchor>;
