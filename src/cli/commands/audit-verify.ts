import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { isErrorResult, leafRecordOf } from '../../audit/export/export-format.js';
import { verifyExport } from '../../audit/export/export-verifier.js';
import { openCheckpoint } from '../../audit/log/checkpoint.js';
import { isAuditLogError } from '../../audit/log/errors.js';
import { type LeafMacKey, leafMacKeys } from '../../audit/log/leaf-mac.js';
import { parseSkey } from '../../audit/log/signed-note.js';
import { createLogVerifier } from '../../audit/log/verifier.js';
import type { VerifyProblem } from '../../audit/log/verify-problem.js';
import type { VerifiedCheckpoint, VerifyReport } from '../../audit/log/verify-types.js';
import { type CosignatureVerifier, parseWitnessVkey } from '../../audit/witness/cosignature.js';
import { checkWitnesses } from '../../audit/witness/witness-judgement.js';
import type { Witnessed } from '../../audit/witness/witness-quorum.js';
import type { StintApi } from '../api.js';
import { CliError, usageError } from '../cli-error.js';
import type { CliContext } from '../context.js';
import { integerArg } from '../options.js';
import type { Output } from '../output.js';
import { collect, KEY_OPTION_HELP, pinnedKeys, type TrustedKeys, trustedKeys } from './audit-keys.js';
import { printOutcome, signers } from './audit-report.js';
import { defaultStatePath, recall, recallWitnessing, remember, rememberWitnessing } from './audit-state.js';

/** The most the leaves route serves per page. */
export const LEAF_PAGE = 10_000;
const DEFAULT_CHECKPOINTS = 1000;
/**
 * How long a checkpoint may go without the witnesses' cosignatures, from when this verifier first saw it (its
 * own clock, kept in the state file), before verify calls it refused.
 */
const WITNESS_GRACE_MS = 60_000;

interface VerifyFlags {
  key?: string[];
  checkpoint?: string[];
  state?: string;
  offline?: string;
  maxCheckpoints?: number;
  workers?: number;
  signingKeyFile?: string[];
  witness?: string[];
  minWitnesses?: number;
}

/** Witness vkeys (cosignature/v1), given inline or as files of one a line. */
export function witnessKeys(list: readonly string[] | undefined): CosignatureVerifier[] {
  const out: CosignatureVerifier[] = [];
  for (const item of list ?? []) {
    const lines = existsSync(item) ? readFileSync(item, 'utf8').split('\n') : [item];
    for (const line of lines.map((l) => l.trim())) {
      if (line === '' || line.startsWith('#')) continue;
      try {
        out.push(parseWitnessVkey(line));
      } catch (e) {
        throw usageError(`--witness: ${(e as Error).message}`);
      }
    }
  }
  return out;
}

/** The skeys in these files (one a line, as the server reads them), for checking leaf MACs. */
function macKeysFrom(files: readonly string[] | undefined): LeafMacKey[] | undefined {
  if (!files || files.length === 0) return undefined;
  const signers = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new CliError('FILE_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`);
    }
    for (const line of text.split('\n').map((l) => l.trim())) {
      if (line === '' || line.startsWith('#')) continue;
      try {
        signers.push(parseSkey(line));
      } catch (e) {
        throw usageError(`${file} holds a line that is not an skey: ${(e as Error).message}`);
      }
    }
  }
  return leafMacKeys(signers);
}

/**
 * Checkpoint notes kept outside the server (a WORM bucket's copy of the checkpoint directory): each path a note
 * file, or a directory whose `checkpoint-*.txt` files are read.
 */
export function readCheckpointFiles(paths: readonly string[]): string[] {
  const notes: string[] = [];
  for (const path of paths) {
    try {
      if (statSync(path).isDirectory()) {
        for (const name of readdirSync(path)
          .filter((f) => /^checkpoint-\d+\.txt$/.test(f))
          .sort()) {
          notes.push(readFileSync(join(path, name), 'utf8'));
        }
      } else {
        notes.push(readFileSync(path, 'utf8'));
      }
    } catch (e) {
      throw new CliError('FILE_UNREADABLE', `cannot read checkpoints from ${path}: ${(e as Error).message}`);
    }
  }
  return notes;
}

/** The server's newest signed checkpoint, or null when it has none yet. */
async function latestNote(api: StintApi): Promise<string | null> {
  try {
    return await api.auditLatestCheckpoint();
  } catch (e) {
    if (e instanceof CliError && e.status === 404) return null;
    throw e;
  }
}

/**
 * Streams every leaf the server serves, page by page, into a local verifier: O(log n) memory and one page in
 * flight ahead. Pages are asked for by count, not by the seqs the server sent, so a server repeating or
 * skipping events cannot steer the walk; the verifier judges what came.
 */
async function verifyServerLeaves(
  api: StintApi,
  makeVerifier: (macFrom: number) => ReturnType<typeof createLogVerifier>,
): Promise<VerifyReport> {
  let start = 0;
  let expected = 0;
  let malformed: VerifyProblem | null = null;
  let next = api.auditLeaves(0, LEAF_PAGE);
  let verifier: ReturnType<typeof createLogVerifier> | null = null;
  for (;;) {
    const page = await next;
    // A server claiming MACs begin later than they do gains nothing: they are required from the first one seen.
    verifier ??= makeVerifier(typeof page?.macFrom === 'number' ? page.macFrom : 0);
    if (!page || !Array.isArray(page.leaves)) {
      throw new CliError('BAD_RESPONSE', 'GET /v1/audit/leaves did not answer { leaves: [...] }');
    }
    const { leaves } = page;
    const more = leaves.length >= LEAF_PAGE;
    if (more) {
      next = api.auditLeaves(start + leaves.length, LEAF_PAGE);
      // Abandoned when verification stops early: not an unhandled rejection.
      next.catch(() => {});
    }
    let going = true;
    for (const leaf of leaves) {
      const record = leafRecordOf(leaf);
      if (isErrorResult(record)) {
        malformed = {
          code: 'MALFORMED',
          index: expected,
          message: `the server sent a leaf that is not one: ${record.error}`,
        };
        going = false;
        break;
      }
      expected = record.index + 1;
      if (!verifier.push(record)) {
        going = false;
        break;
      }
    }
    if (!going || !more) break;
    start += leaves.length;
  }
  const report = (verifier ?? makeVerifier(0)).finish();
  if (
    malformed &&
    (report.ok || report.problem.code === 'MISSING' || report.problem.code === 'NO_CHECKPOINT')
  ) {
    return { ok: false, problem: malformed, eventsRead: report.eventsRead };
  }
  return report;
}

async function verifyAgainstServer(
  ctx: CliContext,
  cmd: Command,
  out: Output,
  flags: VerifyFlags,
): Promise<void> {
  const api = ctx.api(cmd);
  const trusted: TrustedKeys = await trustedKeys(
    flags.key,
    ctx,
    () => api,
    (t) => out.note(t),
  );
  const statePath = flags.state ?? defaultStatePath(ctx.io.env);
  const remembered = recall(statePath, trusted.origin);
  if (remembered) {
    try {
      openCheckpoint(remembered.note, trusted.keys, trusted.origin);
    } catch (e) {
      if (!isAuditLogError(e)) throw e;
      printOutcome(out, {
        ok: false,
        eventsRead: 0,
        problem: {
          code: 'BAD_SIGNATURE',
          checkpointSize: remembered.size,
          message:
            `the checkpoint remembered in ${statePath} does not verify with the trusted key(s): ${e.message} ` +
            '(after a key rotation, give the old key too: --key <old> --key <new>)',
        },
      });
      return;
    }
  }
  const [listed, latest] = await Promise.all([
    api.auditCheckpoints(flags.maxCheckpoints ?? DEFAULT_CHECKPOINTS),
    latestNote(api),
  ]);
  if (!listed || !Array.isArray(listed.checkpoints)) {
    throw new CliError('BAD_RESPONSE', 'GET /v1/audit/checkpoints did not answer { checkpoints: [...] }');
  }
  const notes = new Set<string>(listed.checkpoints.map((c) => c.note).filter((n) => typeof n === 'string'));
  if (latest !== null) notes.add(latest);
  if (remembered) notes.add(remembered.note);
  for (const note of readCheckpointFiles(flags.checkpoint ?? [])) notes.add(note);

  const macKeys = macKeysFrom(flags.signingKeyFile);
  const witnesses = witnessKeys(flags.witness);
  const minWitnesses = flags.minWitnesses ?? witnesses.length;
  if (minWitnesses > witnesses.length) {
    throw usageError(
      `--min-witnesses ${minWitnesses} is more than the ${witnesses.length} --witness keys given`,
    );
  }
  const report = await verifyServerLeaves(api, (macFrom) =>
    createLogVerifier({
      origin: trusted.origin,
      keys: trusted.keys,
      checkpoints: [...notes],
      requirePurges: true,
      ...(macKeys ? { macKeys, macFrom } : {}),
    }),
  );
  if (!report.ok) {
    printOutcome(out, report);
    return;
  }
  let witnessed: Witnessed | null = null;
  if (witnesses.length > 0) {
    const check = checkWitnesses({
      notes: [...notes],
      origin: trusted.origin,
      keys: trusted.keys,
      refusals: listed.checkpoints,
      witnesses,
      k: minWitnesses,
      verifiedSize: report.size,
      state: recallWitnessing(statePath, trusted.origin),
      now: ctx.now(),
      graceMs: WITNESS_GRACE_MS,
    });
    // Kept whatever the outcome: the grace of a checkpoint runs from the first run that saw it.
    rememberWitnessing(statePath, trusted.origin, check.state);
    if (!check.ok) {
      printOutcome(out, { ok: false, eventsRead: report.eventsRead, problem: check.problem });
      return;
    }
    witnessed = check.witnessed;
    if (witnessed.size < report.size) {
      out.note(
        `events ${witnessed.size}..${report.size - 1} are signed by the log but not yet cosigned by the witnesses`,
      );
    }
  }
  const newest = report.checkpoints[0] as VerifiedCheckpoint;
  remember(statePath, trusted.origin, {
    size: report.size,
    note: newest.note,
    verifiedAt: ctx.now().toISOString(),
  });
  printOutcome(out, {
    ok: true,
    verified: {
      events: report.size,
      size: report.size,
      rootHash: report.rootHash,
      signedBy: signers(report.checkpoints),
      unanchored: report.unanchored,
    },
    extra: {
      origin: trusted.origin,
      pinned: trusted.pinned,
      eventsRead: report.eventsRead,
      ...(report.macs ? { macs: report.macs } : {}),
      ...(witnessed ? { witnessed } : {}),
    },
  });
}

async function verifyOffline(ctx: CliContext, out: Output, dir: string, flags: VerifyFlags): Promise<void> {
  if (flags.signingKeyFile) {
    throw usageError('--signing-key-file goes with verifying a server: exports carry no leaf MACs');
  }
  if (flags.witness || flags.minWitnesses) {
    throw usageError('--witness and --min-witnesses go with verifying a server, not with --offline');
  }
  if (flags.state || flags.checkpoint) {
    throw usageError('--state and --checkpoint go with verifying a server, not with --offline');
  }
  const trusted = pinnedKeys(flags.key, ctx.io.env);
  if (!trusted) {
    throw usageError(
      '--offline needs --key <vkey or file> (or STINT_AUDIT_KEY): an export cannot vouch for itself',
    );
  }
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new CliError('FILE_UNREADABLE', `${dir} is not a directory`);
  }
  const report = await verifyExport(dir, {
    keys: trusted.keys,
    ...(flags.workers === undefined ? {} : { workers: flags.workers }),
  });
  if (!report.ok) {
    printOutcome(out, report);
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
    extra: {
      origin: report.origin,
      start: report.start,
      latestSize: report.latest.size,
      eventsRead: report.eventsRead,
    },
  });
}

export function registerAuditVerify(audit: Command, ctx: CliContext): void {
  audit
    .command('verify')
    .description(
      'recompute the whole audit trail and check it against the signed checkpoints, trusting neither the ' +
        'server nor its database; or verify an export offline',
    )
    .option('--key <vkey-or-file>', KEY_OPTION_HELP, collect)
    .option(
      '--checkpoint <file-or-dir>',
      'also check against these signed checkpoints (e.g. a WORM copy of the checkpoint directory); repeatable',
      collect,
    )
    .option(
      '--offline <export-dir>',
      'verify an export directory instead (no server, no database; needs --key)',
    )
    .option(
      '--state <file>',
      'where the newest verified checkpoint (and, with --witness, when each checkpoint was first seen and which ' +
        'witnesses were seen cosigning) is remembered between runs (default ~/.config/stint/audit-state.json, env STINT_AUDIT_STATE)',
    )
    .option(
      '--max-checkpoints <n>',
      `how many of the server's newest checkpoints to check (default ${DEFAULT_CHECKPOINTS})`,
      integerArg(1, 10_000),
    )
    .option(
      '--signing-key-file <file>',
      "the log's signing key(s) (skeys, one a line, as the server's STINT_AUDIT_SIGNING_KEY_FILE): also check " +
        'that every leaf carries a MAC only a Stint server can make; repeatable',
      collect,
    )
    .option(
      '--witness <vkey-or-file>',
      'a witness cosignature key (C2SP tlog-cosignature vkey, type 0x04), or a file of them; repeatable. A witness ' +
        'refusal fails; a checkpoint uncosigned a minute after this verifier first saw it fails; a witness new to ' +
        'this verifier (trust on first use) must have cosigned the current tree',
      collect,
    )
    .option(
      '--min-witnesses <k>',
      'require a verified checkpoint cosigned by at least k of the --witness keys (default: all of them)',
      integerArg(1, 100),
    )
    .option(
      '--workers <n>',
      'with --offline: hashing threads (default: all cores but one for large exports)',
      integerArg(0, 256),
    )
    .action(async (flags: VerifyFlags, cmd: Command) => {
      const out = ctx.output(cmd);
      if (flags.offline !== undefined) await verifyOffline(ctx, out, flags.offline, flags);
      else await verifyAgainstServer(ctx, cmd, out, flags);
    });
}
