import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  BundleError,
  checkProofBundle,
  consistencyBundle,
  inclusionBundle,
  type ProofCheck,
} from '../../audit/export/proof-bundle.js';
import { decodeBase64Strict } from '../../audit/log/base64.js';
import type { StintApi } from '../api.js';
import { CliError, EXIT_FAILURE, ExitStatus, usageError } from '../cli-error.js';
import type { CliContext } from '../context.js';
import { integerArg } from '../options.js';
import { collect, KEY_OPTION_HELP, pinnedKeys } from './audit-keys.js';
import { shortRoot } from './audit-report.js';

const printJson = (ctx: CliContext, value: unknown) =>
  ctx.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

/** A signed checkpoint of exactly `size`: the stored one, else one made on demand (needs an auditor's token). */
async function noteOfSize(api: StintApi, size: number, given: string | null): Promise<string> {
  if (given) return given;
  try {
    const made = await api.auditCheckpointAt(size);
    if (made.size !== size) {
      // Only security and admins have one signed on demand; others get the first stored one covering it.
      throw new CliError(
        'NOT_FOUND',
        `no checkpoint of size ${size} is stored (the first covering it is ${made.size}), and only security ` +
          'or an admin may have one signed: ask for a stored size',
      );
    }
    return made.note;
  } catch (e) {
    if (e instanceof CliError && (e.status === 401 || e.status === 403)) {
      throw new CliError(
        e.code,
        `no stored checkpoint has size ${size}, and making one needs an auditor's token: ${e.message}`,
      );
    }
    throw e;
  }
}

function rootText(b64: string): string {
  const bytes = decodeBase64Strict(b64);
  return bytes ? shortRoot(bytes) : b64;
}

function describe(check: Extract<ProofCheck, { ok: true }>): string {
  if (check.kind === 'inclusion') {
    const c = check.checkpoint;
    const what = check.eventId ? `event ${check.eventId} (seq ${check.seq})` : `leaf ${check.seq}`;
    return `valid: ${what} is included in checkpoint ${c.size} (${rootText(c.rootHash)}, signed by ${c.signedBy.join(', ')})`;
  }
  return (
    `valid: checkpoint ${check.old.size} (${rootText(check.old.rootHash)}) is a prefix of checkpoint ` +
    `${check.new.size} (${rootText(check.new.rootHash)}, signed by ${check.new.signedBy.join(', ')})`
  );
}

interface ProveFlags {
  size?: number;
}

export function registerAuditProofs(audit: Command, ctx: CliContext): void {
  audit
    .command('prove')
    .description('print a self-contained inclusion proof of one event in a signed checkpoint (JSON)')
    .argument('<event>', 'event id (uuid), or a sequence number')
    .option('--size <n>', 'prove against the checkpoint of this size (default: the latest)', integerArg(1))
    .action(async (event: string, flags: ProveFlags, cmd: Command) => {
      const api = ctx.api(cmd);
      const target = /^\d+$/.test(event) ? { seq: Number(event) } : { event };
      const answer = await api.auditInclusion({ ...target, ...(flags.size ? { size: flags.size } : {}) });
      const checkpoint = await noteOfSize(api, answer.size, answer.checkpoint);
      try {
        printJson(ctx, inclusionBundle({ ...answer, checkpoint }));
      } catch (e) {
        if (e instanceof BundleError) throw new CliError('BAD_RESPONSE', e.message);
        throw e;
      }
    });

  audit
    .command('consistency')
    .description('print a self-contained consistency proof between two checkpoint sizes (JSON)')
    .argument('<old-size>', 'the older tree size', integerArg(0))
    .argument('<new-size>', 'the newer tree size', integerArg(0))
    .action(async (oldSize: number, newSize: number, _flags: unknown, cmd: Command) => {
      if (oldSize > newSize) throw usageError('<old-size> must not be larger than <new-size>');
      const api = ctx.api(cmd);
      const answer = await api.auditConsistency(oldSize, newSize);
      const [oldCheckpoint, newCheckpoint] = await Promise.all([
        noteOfSize(api, oldSize, answer.oldCheckpoint),
        noteOfSize(api, newSize, answer.newCheckpoint),
      ]);
      printJson(ctx, consistencyBundle({ ...answer, oldCheckpoint, newCheckpoint }));
    });

  audit
    .command('check-proof')
    .description('check a proof printed by prove or consistency, offline, with the log key')
    .argument('<file>', 'the proof bundle (JSON)')
    .option('--key <vkey-or-file>', KEY_OPTION_HELP, collect)
    .action(async (file: string, flags: { key?: string[] }, cmd: Command) => {
      const out = ctx.output(cmd);
      const trusted = pinnedKeys(flags.key, ctx.io.env);
      if (!trusted) {
        throw usageError(
          'check-proof needs --key <vkey or file> (or STINT_AUDIT_KEY): a proof cannot vouch for itself',
        );
      }
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new CliError('FILE_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`);
      }
      let bundle: unknown;
      try {
        bundle = JSON.parse(text);
      } catch {
        bundle = undefined;
      }
      const check = checkProofBundle(bundle, trusted.keys);
      out.result(check, () =>
        out.line(check.ok ? describe(check) : `INVALID: ${check.code}: ${check.message}`),
      );
      if (!check.ok) throw new ExitStatus(EXIT_FAILURE);
    });
}
