import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import {
  BundleError,
  consistencyBundle,
  inclusionBundle,
  type ProofBundle,
} from '../../audit/export/proof-bundle.js';
import { isStintError } from '../../domain/errors.js';
import { archivePack } from '../../evidence/evidence-archive.js';
import {
  AUDIT_DIR,
  CONSISTENCY_PROOF,
  inclusionProofName,
  packDirName,
} from '../../evidence/evidence-format.js';
import { type PolicyText, type WitnessedNote, writePack } from '../../evidence/evidence-pack.js';
import { createSectionBuilder } from '../../evidence/evidence-sections.js';
import { type PackReport, verifyEvidencePack } from '../../evidence/evidence-verify.js';
import { type Period, periodOf } from '../../report/period.js';
import type { StintApi } from '../api.js';
import { CliError, EXIT_FAILURE, ExitStatus, usageError } from '../cli-error.js';
import type { CliContext } from '../context.js';
import { integerArg } from '../options.js';
import type { Output } from '../output.js';
import { exportRange } from './audit-export.js';
import { collect, KEY_OPTION_HELP, pinnedKeys, trustedKeys } from './audit-keys.js';
import { defaultStatePath } from './audit-state.js';
import { witnessKeys } from './audit-verify.js';
import { recordingCasts } from './evidence-recordings.js';

interface ExportFlags {
  period?: string;
  since?: string;
  until?: string;
  out?: string;
  key?: string[];
  state?: string;
  withRecordings?: boolean;
}

interface VerifyFlags {
  key?: string[];
  witness?: string[];
  minWitnesses?: number;
  workers?: number;
}

function periodFrom(flags: { period?: string; since?: string; until?: string }): Period {
  try {
    return periodOf(flags);
  } catch (e) {
    if (isStintError(e)) throw usageError(e.message);
    throw e;
  }
}

const BOUNDARY_WORDS = {
  start: {
    'event-before': 'the event before it is stamped before the period',
    'log-start': 'the log begins in the period',
    'event-before-purged': 'not proven: the event before it was purged',
  },
  end: {
    'event-after': 'the event after it is stamped after the period',
    'not-yet': 'not proven yet: no event after the period was in the log when the pack was made',
    'event-after-purged': 'not proven: the event after it was purged',
  },
} as const;

/** The verified pack as a person reads it: every event of the period named by action, first and last seq. */
export function printPack(out: Output, r: PackReport, extra: Record<string, unknown> = {}): void {
  if (!r.ok) {
    out.result(
      {
        ok: false,
        problem: { code: r.code, message: r.message, ...(r.auditCode ? { auditCode: r.auditCode } : {}) },
        ...extra,
      },
      () => out.line(`FAILED: ${r.code}${r.index !== undefined ? ` at event ${r.index}` : ''}: ${r.message}`),
    );
    throw new ExitStatus(EXIT_FAILURE);
  }
  out.result({ ...r, ...extra }, () => {
    const e = r.events;
    const span = e.count === 0 ? 'no events' : `${e.count} events, seq ${e.firstSeq}..${e.lastSeq}`;
    out.line(
      `verified evidence pack ${r.period.label} of ${r.origin}: ${span}; checkpoint ${r.checkpoint.size} ` +
        `(${r.checkpoint.rootHash.slice(0, 12)}…, signed by ${r.checkpoint.signedBy.join(', ')}), consistent with checkpoint ${r.latest.size}`,
    );
    out.fields([
      ['period', `${r.period.since} .. ${r.period.until}`],
      ['first event', BOUNDARY_WORDS.start[r.boundaries.start]],
      ['last event', BOUNDARY_WORDS.end[r.boundaries.end]],
      [
        'purged',
        e.purged
          ? `${e.purged.count} event(s) of the period, seq ${e.purged.ranges.map(([a, b]) => (a === b ? `${a}` : `${a}..${b}`)).join(', ')}: hashes verified, content gone`
          : 'none',
      ],
      [
        'stamped outside',
        e.stampedOutside > 0 ? `${e.stampedOutside} event(s) (clock skew between servers)` : undefined,
      ],
      [
        'access',
        `${r.access.requests} request(s) with events in the period, ${r.access.madeInPeriod} made in it`,
      ],
      [
        'break-glass',
        `${r.breakglass.uses} use(s), ${r.breakglass.events} break-glass event(s), ${r.breakglass.postmortemEvents} postmortem event(s), ${r.breakglass.drillEvents} drill event(s)`,
      ],
      [
        'recordings',
        `${r.recordings.sessions} session(s), ${r.recordings.recordings} recording(s), ${r.recordings.segments} sealed segment(s), ${r.recordings.verdicts} verdict(s); ` +
          (r.recordings.casts > 0
            ? `${r.recordings.casts} segment file(s) checked against their recording.segment events`
            : 'segment bytes not in the pack (hashes only)'),
      ],
      [
        'proofs',
        `consistency ${r.proofs.consistency.old} → ${r.proofs.consistency.new}` +
          (r.proofs.inclusion.length > 0
            ? `; inclusion of break-glass use(s) at seq ${r.proofs.inclusion.join(', ')}`
            : ''),
      ],
      [
        'policy versions',
        r.policies.length === 0
          ? 'none recorded in the period'
          : r.policies
              .map((p) => `${p.version} (${p.requests} request(s)${p.text ? ', text included' : ''})`)
              .join(', '),
      ],
      [
        'witnesses',
        r.witnesses
          .map((w) =>
            w.cosigners.length === 0
              ? `checkpoint ${w.size}: no cosignatures`
              : `checkpoint ${w.size}: ${w.cosigners.join(', ')}${w.verifiedBy.length > 0 ? ` (verified: ${w.verifiedBy.join(', ')})` : ' (not checked: give --witness)'}`,
          )
          .join('; '),
      ],
    ]);
    if (e.count > 0) {
      out.table(
        ['action', 'events', 'first seq', 'last seq'],
        Object.entries(e.byAction).map(([a, c]) => [
          a,
          String(c.count),
          String(c.firstSeq),
          String(c.lastSeq),
        ]),
      );
    }
  });
}

/** The cosigned copy of each of the pack's checkpoints the server lists (else the copy the export holds). */
async function witnessedNotes(api: StintApi, auditDir: string): Promise<WitnessedNote[]> {
  const own = await readFile(join(auditDir, 'checkpoint.txt'), 'utf8');
  const consistency = JSON.parse(await readFile(join(auditDir, 'consistency.json'), 'utf8')) as {
    old: number;
    new: number;
    newCheckpoint: string;
  };
  const listed = await api.auditCheckpoints(1000).catch(() => ({ checkpoints: [] }));
  const noteOf = (size: number, fallback: string) =>
    listed.checkpoints.find((c) => c.size === size && typeof c.note === 'string')?.note ?? fallback;
  const notes: WitnessedNote[] = [{ size: consistency.old, note: noteOf(consistency.old, own) }];
  if (consistency.new !== consistency.old) {
    notes.push({ size: consistency.new, note: noteOf(consistency.new, consistency.newCheckpoint) });
  }
  return notes;
}

/**
 * Proofs that travel alone (`stint audit check-proof`): each break-glass use included in the pack's checkpoint,
 * and that checkpoint consistent with the newer one.
 */
async function proofBundles(
  api: StintApi,
  auditDir: string,
  size: number,
  useSeqs: readonly number[],
): Promise<{ name: string; bundle: ProofBundle }[]> {
  const checkpoint = await readFile(join(auditDir, 'checkpoint.txt'), 'utf8');
  const c = JSON.parse(await readFile(join(auditDir, 'consistency.json'), 'utf8')) as {
    old: number;
    new: number;
    proof: string[];
    newCheckpoint: string;
  };
  const out: { name: string; bundle: ProofBundle }[] = [
    {
      name: CONSISTENCY_PROOF,
      bundle: consistencyBundle({ ...c, oldCheckpoint: checkpoint, newCheckpoint: c.newCheckpoint }),
    },
  ];
  for (const seq of useSeqs) {
    const answer = await api.auditInclusion({ seq, size });
    try {
      out.push({
        name: inclusionProofName(seq),
        bundle: inclusionBundle({ ...answer, checkpoint: answer.checkpoint ?? checkpoint }),
      });
    } catch (e) {
      if (e instanceof BundleError) throw new CliError('BAD_RESPONSE', e.message);
      throw e;
    }
  }
  return out;
}

async function policyInForce(api: StintApi, out: Output): Promise<PolicyText | null> {
  try {
    const p = await api.evidencePolicy();
    if (typeof p?.version !== 'string' || typeof p.sha256 !== 'string' || typeof p.source !== 'string') {
      throw new CliError(
        'BAD_RESPONSE',
        'GET /v1/evidence/policy did not answer { version, sha256, source }',
      );
    }
    return p;
  } catch (e) {
    if (!(e instanceof CliError) || e.status === undefined || e.status >= 500) throw e;
    out.note(`the policy text is not in the pack (${e.message}): its versions are`);
    return null;
  }
}

async function exportPack(ctx: CliContext, cmd: Command, flags: ExportFlags): Promise<void> {
  const out = ctx.output(cmd);
  const period = periodFrom(flags);
  const file = resolve(flags.out ?? `${packDirName(period.label)}.tar.gz`);
  if (existsSync(file)) throw usageError(`${file} exists: give a new --out`);
  const api = ctx.api(cmd);
  const trusted = await trustedKeys(
    flags.key,
    ctx,
    () => api,
    (t) => out.note(t),
  );
  const range = await api.evidenceRange({
    since: period.since.toISOString(),
    until: period.until.toISOString(),
  });
  if (
    ![range?.start, range?.end, range?.exportStart, range?.exportEnd].every((n) => Number.isSafeInteger(n)) ||
    range.end < range.start ||
    range.exportStart > range.start ||
    range.exportEnd < range.end
  ) {
    throw new CliError(
      'BAD_RESPONSE',
      'GET /v1/evidence/range did not answer { start, end, exportStart, exportEnd }',
    );
  }
  // One event either side of the period where the log has one (it shows nothing of the period was left out), and
  // on to the purge events that blanked any of its bodies (verifiers accept a blank only under its purge).
  const seqs = { start: range.exportStart, end: range.exportEnd };
  if (range.exportEnd > range.end + 1) {
    out.note(
      `events of the period were purged by retention: the pack runs on to seq ${range.exportEnd - 1}, the purge that blanked them`,
    );
  }

  const work = await mkdtemp(join(tmpdir(), 'stint-evidence-'));
  try {
    const packDir = join(work, packDirName(period.label));
    await mkdir(packDir);
    const auditDir = join(packDir, AUDIT_DIR);
    const builder = createSectionBuilder(period, { start: range.start, end: range.end });
    const written = await exportRange(api, trusted, {
      since: period.since,
      until: period.until,
      dir: auditDir,
      statePath: flags.state ?? defaultStatePath(ctx.io.env),
      now: ctx.now(),
      note: (t) => out.note(t),
      onLeaf: (leaf) => builder.add(leaf.seq, leaf.body),
      seqs,
    });
    if (!written.ok) {
      printPack(out, {
        ok: false,
        code: 'AUDIT',
        message: written.problem.message,
        auditCode: written.problem.code,
      });
      return;
    }
    const sections = builder.finish();
    await writePack({
      dir: packDir,
      period,
      origin: trusted.origin,
      createdAt: ctx.now(),
      sections,
      export: { start: written.start, end: written.end, checkpointSize: written.end },
      policy: await policyInForce(api, out),
      witnessNotes: await witnessedNotes(api, auditDir),
      keys: trusted.keys,
      proofs: await proofBundles(api, auditDir, written.end, sections.useSeqs),
      casts: flags.withRecordings ? await recordingCasts(ctx, cmd, sections.sessions) : [],
    });
    await archivePack(packDir, file);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  // Read back as an auditor would, with no server: the pack is only done once it verifies.
  const report = await verifyEvidencePack(file, { keys: trusted.keys });
  if (!out.json) out.line(`wrote ${file}`);
  if (!report.ok) out.note(`the pack in ${file} does not verify; it is kept for inspection`);
  printPack(out, report, { file });
}

async function verifyPack(ctx: CliContext, cmd: Command, file: string, flags: VerifyFlags): Promise<void> {
  const out = ctx.output(cmd);
  const trusted = pinnedKeys(flags.key, ctx.io.env);
  if (!trusted) {
    throw usageError(
      'verify needs --key <vkey or file> (or STINT_AUDIT_KEY): a pack cannot vouch for itself',
    );
  }
  const witnesses = witnessKeys(flags.witness);
  if (flags.minWitnesses !== undefined && flags.minWitnesses > witnesses.length) {
    throw usageError(
      `--min-witnesses ${flags.minWitnesses} is more than the ${witnesses.length} --witness keys given`,
    );
  }
  if (!existsSync(file)) throw new CliError('FILE_UNREADABLE', `${file} does not exist`);
  const report = await verifyEvidencePack(file, {
    keys: trusted.keys,
    witnesses,
    ...(flags.minWitnesses !== undefined ? { minWitnesses: flags.minWitnesses } : {}),
    ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
  });
  printPack(out, report);
}

export function registerEvidence(program: Command, ctx: CliContext): void {
  const evidence = program
    .command('evidence')
    .description("the auditor's evidence pack of a period: export it from a server, verify it with none");
  evidence
    .command('export')
    .description(
      'one archive of the period: who had what, when, why and approved by whom, break-glass uses with ' +
        'postmortems and drills, recorded sessions with their segment hashes and reviews, the policy versions, the audit events with their proofs and witness ' +
        'cosignatures, and an index mapped to PCI DSS v4 10.2-10.5 and SOC 2 CC6/CC7 (auditors, security, admins)',
    )
    .option('--period <period>', 'a quarter (2026-Q3), a month (2026-07) or a year (2026), UTC')
    .option('--since <when>', 'first day (YYYY-MM-DD, UTC) or time (ISO 8601 with zone), inclusive')
    .option('--until <when>', 'last day (YYYY-MM-DD, inclusive) or time (ISO 8601 with zone, exclusive)')
    .option(
      '--out <file>',
      'the archive to write (default stint-evidence-<period>.tar.gz here); must not exist',
    )
    .option('--key <vkey-or-file>', `${KEY_OPTION_HELP}; the pack is verified with it once written`, collect)
    .option(
      '--state <file>',
      'the checkpoint `stint audit verify` remembered (read only): the pack must reach it',
    )
    .option(
      '--with-recordings',
      'carry the bytes of every recording segment sealed in the period (recordings/), each checked against its audit event',
    )
    .action((flags: ExportFlags, cmd: Command) => exportPack(ctx, cmd, flags));
  evidence
    .command('verify')
    .description(
      'check an evidence pack with no server: the events against the signed checkpoint and the pinned key, the ' +
        "period's boundaries, every derived file recomputed, recording segments against their events, the policy texts, witness cosignatures",
    )
    .argument('<file>', 'the pack (.tar.gz)')
    .option('--key <vkey-or-file>', KEY_OPTION_HELP, collect)
    .option('--witness <vkey-or-file>', 'a witness cosignature key (or a file of them); repeatable', collect)
    .option(
      '--min-witnesses <k>',
      'cosignatures required on the newest checkpoint (default: every --witness)',
      integerArg(1, 100),
    )
    .option(
      '--workers <n>',
      'hashing threads (default: all cores but one for large packs)',
      integerArg(0, 256),
    )
    .action((file: string, flags: VerifyFlags, cmd: Command) => verifyPack(ctx, cmd, file, flags));
}
