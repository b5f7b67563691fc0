import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { ConsistencyFile, ExportLeaf, Manifest } from '../../audit/export/export-format.js';
import { verifyExport } from '../../audit/export/export-verifier.js';
import { ExportDirectoryError, writeExport } from '../../audit/export/export-writer.js';
import { openCheckpoint } from '../../audit/log/checkpoint.js';
import { isAuditLogError } from '../../audit/log/errors.js';
import type { VerifyProblem } from '../../audit/log/verify-problem.js';
import type { StintApi } from '../api.js';
import { CliError, usageError } from '../cli-error.js';
import type { CliContext } from '../context.js';
import { collect, KEY_OPTION_HELP, type TrustedKeys, trustedKeys } from './audit-keys.js';
import { printOutcome, signers } from './audit-report.js';
import { defaultStatePath, recall } from './audit-state.js';
import { LEAF_PAGE } from './audit-verify.js';

interface ExportFlags {
  since: string;
  until: string;
  key?: string[];
  state?: string;
}

const DAY_MS = 86_400_000;

/**
 * `2025-01-31` is that whole UTC day (as --since its start, as --until its end, so --since 2025-01-01
 * --until 2025-01-31 is all of January); otherwise an ISO 8601 time with its zone (`Z` or `+02:00`): a time
 * without one would mean whatever zone this machine is in.
 */
export function parseWhen(text: string, role: 'since' | 'until'): Date {
  const flag = `--${role}`;
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const day = new Date(`${text}T00:00:00.000Z`);
    if (Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== text) {
      throw usageError(`${flag} ${text} is not a date`);
    }
    return role === 'until' ? new Date(day.getTime() + DAY_MS) : day;
  }
  if (!/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:?\d{2})$/i.test(text)) {
    throw usageError(
      `${flag} takes YYYY-MM-DD (a UTC day) or an ISO time with a zone like 2025-01-31T12:00:00Z`,
    );
  }
  const when = new Date(text);
  if (Number.isNaN(when.getTime())) throw usageError(`${flag} ${text} is not a valid time`);
  return when;
}

/** The server's events do not run on from `start` to `end`: the export stops and names where. */
class RangeGap extends Error {
  readonly problem: VerifyProblem;
  constructor(problem: VerifyProblem) {
    super(problem.message);
    this.problem = problem;
  }
}

/**
 * The leaves [start, end) page by page, one page fetched ahead, each checked for shape and for being the seq
 * that comes next: pages are asked for from the seq after the last one received, so a row missing from the
 * store is a gap named here (REMOVED), never a short page topped up with later events written twice.
 */
async function* serverLeaves(api: StintApi, start: number, end: number): AsyncGenerator<ExportLeaf> {
  let expected = start;
  const fetchPage = (from: number) => {
    const p = api.auditLeaves(from, Math.min(LEAF_PAGE, end - from));
    p.catch(() => {});
    return p;
  };
  let next = expected < end ? fetchPage(expected) : null;
  while (next) {
    const page = await next;
    if (!page || !Array.isArray(page.leaves)) {
      throw new CliError('BAD_RESPONSE', 'GET /v1/audit/leaves did not answer { leaves: [...] }');
    }
    const leaves = page.leaves;
    const from = expected;
    // Speculative: used only if this page turns out contiguous, which makes its next seq from + length.
    next = from + leaves.length < end && leaves.length > 0 ? fetchPage(from + leaves.length) : null;
    if (leaves.length === 0) {
      throw new RangeGap({
        code: 'REMOVED',
        index: expected,
        message: `event ${expected} is missing: the server's events end before the range's end ${end}`,
      });
    }
    for (const leaf of leaves) {
      if (
        !leaf ||
        !Number.isSafeInteger(leaf.seq) ||
        (leaf.body !== null && typeof leaf.body !== 'string') ||
        typeof leaf.leafHash !== 'string'
      ) {
        throw new CliError(
          'BAD_RESPONSE',
          `the server sent an event that is not { seq, body, leafHash } near ${expected}`,
        );
      }
      if (leaf.seq !== expected) {
        throw new RangeGap({
          code: leaf.seq > expected ? 'REMOVED' : 'REORDERED',
          index: expected,
          message:
            leaf.seq > expected
              ? `event ${expected} is missing (the next event is ${leaf.seq})`
              : `event ${leaf.seq} came again where event ${expected} was due`,
        });
      }
      yield { seq: leaf.seq, body: leaf.body, leafHash: leaf.leafHash };
      expected++;
      if (expected >= end) return;
    }
  }
}

function sizeOf(note: string, trusted: TrustedKeys, what: string): number {
  try {
    return openCheckpoint(note, trusted.keys, trusted.origin).checkpoint.size;
  } catch (e) {
    if (!isAuditLogError(e)) throw e;
    throw new CliError('BAD_SIGNATURE', `${what} from the server does not verify: ${e.message}`);
  }
}

/** What `exportRange` wrote: the manifest and the seqs it covers, or the problem that stopped it. */
export type RangeExport =
  | {
      ok: true;
      manifest: Manifest;
      /** The export holds seqs [start, end): end is the first signed checkpoint covering the range. */
      start: number;
      end: number;
      /** Where the asked range itself ends (≤ end): the events past it are there to reach a signed checkpoint. */
      periodEnd: number;
    }
  | {
      ok: false;
      problem: VerifyProblem;
      eventsRead: number;
      /** A directory without a manifest was left behind (kept for inspection). */
      incomplete: boolean;
    };

/** Passes each leaf to `see` on its way to the writer: one stream, read once. */
async function* tapped(
  leaves: AsyncIterable<ExportLeaf>,
  see: (leaf: ExportLeaf) => void,
): AsyncGenerator<ExportLeaf> {
  for await (const leaf of leaves) {
    see(leaf);
    yield leaf;
  }
}

/**
 * Writes the events whose time is in [since, until) as an export directory (export-writer.ts), with the signed
 * checkpoint that covers them, the frontier they start from and a consistency proof to the newest checkpoint
 * known (the server's, or the one `verify` remembered). The server's answers are checked as they come (every
 * leaf is the seq that comes next; checkpoints verify with the trusted keys). `stint audit export` and
 * `stint evidence export` both write through here; `onLeaf` sees each event as it is written.
 */
export async function exportRange(
  api: StintApi,
  trusted: TrustedKeys,
  opts: {
    since: Date;
    until: Date;
    dir: string;
    statePath: string;
    now: Date;
    note(text: string): void;
    onLeaf?: (leaf: ExportLeaf) => void;
    /** The seqs to export when the caller chose them (an evidence pack takes one event either side). */
    seqs?: { start: number; end: number };
  },
): Promise<RangeExport> {
  const range = opts.seqs ?? (await api.auditRange(opts.since.toISOString(), opts.until.toISOString()));
  if (!Number.isSafeInteger(range?.start) || !Number.isSafeInteger(range?.end) || range.end < range.start) {
    throw new CliError('BAD_RESPONSE', 'GET /v1/audit/range did not answer { start, end }');
  }
  const { start } = range;
  const [checkpoint, frontier, latest] = await Promise.all([
    api.auditCheckpointAt(range.end),
    api.auditFrontier(start),
    api.auditLatestCheckpoint(),
  ]);
  if (frontier?.size !== start || !Array.isArray(frontier.hashes)) {
    throw new CliError('BAD_RESPONSE', `GET /v1/audit/frontier did not answer { size: ${start}, hashes }`);
  }
  // Only security and admins have a checkpoint signed at exactly the range's end; anyone else gets the first
  // signed one that covers it, and the export runs on to its size (a few events past --until).
  const end = sizeOf(checkpoint.note, trusted, `the checkpoint for size ${range.end}`);
  if (end < range.end) {
    throw new CliError(
      'BAD_RESPONSE',
      `asked for a checkpoint covering size ${range.end}, the server answered one of size ${end}`,
    );
  }
  if (end > range.end) {
    opts.note(
      `no checkpoint of size ${range.end} is stored: the export runs on to checkpoint ${end}, the first signed one covering the range`,
    );
  }
  // The newest checkpoint known: the server's (its WORM folder's included) or the one `verify` remembered.
  let newest = { size: sizeOf(latest, trusted, 'the latest checkpoint'), note: latest };
  const remembered = recall(opts.statePath, trusted.origin);
  if (remembered && remembered.size > newest.size) {
    newest = {
      size: sizeOf(remembered.note, trusted, 'the remembered checkpoint'),
      note: remembered.note,
    };
  }
  let consistency: ConsistencyFile;
  if (newest.size > end) {
    let proof: Awaited<ReturnType<StintApi['auditConsistency']>>;
    try {
      proof = await api.auditConsistency(end, newest.size);
    } catch (e) {
      if (!(e instanceof CliError) || e.status === undefined || e.status >= 500) throw e;
      return {
        ok: false,
        incomplete: false,
        eventsRead: 0,
        problem: {
          code: 'MISSING',
          checkpointSize: newest.size,
          message:
            `checkpoint ${newest.size} was signed but the server cannot prove its trail reaches it ` +
            `(${e.message}): rolled back or truncated; nothing was exported`,
        },
      };
    }
    // The newest known note travels, not the server's copy: a server that forked fails the check below.
    consistency = { old: end, new: newest.size, proof: proof.proof, newCheckpoint: newest.note };
  } else {
    // The export reaches the newest checkpoint: the proof to itself is empty.
    consistency = { old: end, new: end, proof: [], newCheckpoint: checkpoint.note };
  }

  let manifest: Awaited<ReturnType<typeof writeExport>>;
  try {
    manifest = await writeExport(opts.dir, {
      origin: trusted.origin,
      range: { since: opts.since, until: opts.until, start, end },
      checkpoint: checkpoint.note,
      start: { size: frontier.size, hashes: frontier.hashes },
      consistency,
      leaves: opts.onLeaf
        ? tapped(serverLeaves(api, start, end), opts.onLeaf)
        : serverLeaves(api, start, end),
      now: opts.now,
    });
  } catch (e) {
    if (!(e instanceof RangeGap)) throw e;
    return {
      ok: false,
      incomplete: true,
      problem: e.problem,
      eventsRead: (e.problem.index ?? start) - start,
    };
  }
  return { ok: true, manifest, start, end, periodEnd: range.end };
}

export function registerAuditExport(audit: Command, ctx: CliContext): void {
  audit
    .command('export')
    .description(
      'write the events of a time range as day segments (JSON Lines) with the signed checkpoint and proofs ' +
        'that make them verifiable offline',
    )
    .argument('<dir>', 'a new (or empty) directory for the export')
    .requiredOption('--since <when>', 'first day (YYYY-MM-DD, UTC) or time (ISO 8601 with zone), inclusive')
    .requiredOption(
      '--until <when>',
      'last day (YYYY-MM-DD, inclusive) or time (ISO 8601 with zone, exclusive)',
    )
    .option('--key <vkey-or-file>', `${KEY_OPTION_HELP}; used to check the export once written`, collect)
    .option(
      '--state <file>',
      'the checkpoint `stint audit verify` remembered (read only): the export must reach it (default as verify)',
    )
    .action(async (dir: string, flags: ExportFlags, cmd: Command) => {
      const out = ctx.output(cmd);
      const since = parseWhen(flags.since, 'since');
      const until = parseWhen(flags.until, 'until');
      if (until.getTime() <= since.getTime()) throw usageError('--until must be after --since');
      const api = ctx.api(cmd);
      const trusted = await trustedKeys(
        flags.key,
        ctx,
        () => api,
        (t) => out.note(t),
      );

      let written: RangeExport;
      try {
        written = await exportRange(api, trusted, {
          since,
          until,
          dir,
          statePath: flags.state ?? defaultStatePath(ctx.io.env),
          now: ctx.now(),
          note: (t) => out.note(t),
        });
      } catch (e) {
        if (e instanceof ExportDirectoryError) throw usageError(e.message);
        throw e;
      }
      if (!written.ok) {
        if (written.incomplete) {
          out.note(`the export in ${resolve(dir)} is incomplete (no manifest); it is kept for inspection`);
        }
        printOutcome(out, { ok: false, problem: written.problem, eventsRead: written.eventsRead });
        return;
      }
      const { manifest, start, end } = written;
      const segments = manifest.files.filter((f) => f.count !== undefined).length;
      if (!out.json) {
        out.line(
          `exported ${manifest.events} events (seq ${start}..${end - 1}) to ${resolve(dir)}: ${segments} day file(s), checkpoint ${end}`,
        );
      }
      // Read back what was written, as an auditor would: the export is only done once it verifies.
      const report = await verifyExport(dir, { keys: trusted.keys });
      const extra = { dir: resolve(dir), manifest };
      if (!report.ok) {
        out.note(`the export in ${resolve(dir)} does not verify; it is kept for inspection`);
        printOutcome(out, { ...report, extra });
        return;
      }
      printOutcome(out, {
        ok: true,
        verified: {
          events: report.events,
          size: report.size,
          rootHash: report.rootHash,
          signedBy: signers(report.checkpoints),
        },
        extra,
      });
    });
}
