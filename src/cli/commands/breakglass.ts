import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type {
  DrillView,
  InvocationView,
  PostmortemView,
  SealView,
  UnsealView,
} from '../../breakglass/breakglass-types.js';
import {
  checkShare,
  makeSeal,
  newNonce,
  OFFLINE_RECORD_KIND,
  openSeal,
  parseShare,
  type SealBundle,
  signOfflineRecord,
} from '../../breakglass/seal-crypto.js';
import { parseDuration } from '../../domain/duration.js';
import { isStintError } from '../../domain/errors.js';
import { CliError, EXIT_FAILURE, ExitStatus, usageError } from '../cli-error.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { createHttpClient, DEFAULT_URL, type HttpClient } from '../http-client.js';
import { readStoredToken } from '../token-file.js';

/** The break-glass routes of the API, one method per route. */
export function createBreakglassApi(http: HttpClient) {
  const enc = encodeURIComponent;
  return {
    invoke: (body: { resource: string; role: string; reason: string; duration?: string }) =>
      http.post<InvocationView>('/v1/breakglass', body),
    list: () => http.get<{ invocations: InvocationView[] }>('/v1/breakglass'),
    createSeal: (body: Omit<SealBundle, 'v'>) => http.post<SealView>('/v1/breakglass/seals', body),
    seals: () => http.get<{ seals: SealView[] }>('/v1/breakglass/seals'),
    openUnseal: (body: { scope: string; reason: string; drill?: boolean }) =>
      http.post<UnsealView>('/v1/breakglass/unseal', body),
    unseals: () => http.get<{ attempts: UnsealView[] }>('/v1/breakglass/unseal'),
    give: (id: string, share: string) =>
      http.post<UnsealView>(`/v1/breakglass/unseal/${enc(id)}/shares`, { share }),
    take: (id: string) =>
      http.post<{ unsealId: string; sealId: string; scope: string; secret: string }>(
        `/v1/breakglass/unseal/${enc(id)}/secret`,
      ),
    postmortems: (query: { state?: string; overdue?: string }) =>
      http.get<{ postmortems: PostmortemView[] }>('/v1/breakglass/postmortems', query),
    postmortem: (id: string) => http.get<PostmortemView>(`/v1/breakglass/postmortems/${enc(id)}`),
    fill: (id: string, body: Record<string, unknown>) =>
      http.post<PostmortemView>(`/v1/breakglass/postmortems/${enc(id)}`, body),
    close: (id: string) => http.post<PostmortemView>(`/v1/breakglass/postmortems/${enc(id)}/close`),
    startDrill: (body: { resource: string; role?: string; reason?: string; ackTimeout?: string }) =>
      http.post<DrillView>('/v1/breakglass/drills', body),
    drill: (id: string) => http.get<DrillView>(`/v1/breakglass/drills/${enc(id)}`),
    drills: () => http.get<{ drills: DrillView[] }>('/v1/breakglass/drills'),
  };
}

function httpFrom(ctx: CliContext, cmd: Command): HttpClient {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  return createHttpClient({
    baseUrl: g.url ?? ctx.io.env.STINT_URL ?? DEFAULT_URL,
    token: g.token ?? ctx.io.env.STINT_TOKEN ?? readStoredToken(ctx.io.env),
    fetch: ctx.io.fetch,
  });
}

/** A file's text, `-` for standard input: secrets and shares never travel on the command line (ps shows it). */
function readInput(path: string, what: string): string {
  try {
    return readFileSync(path === '-' ? '/dev/stdin' : path, 'utf8');
  } catch (e) {
    throw new CliError(
      'FILE_UNREADABLE',
      `${what}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

function durationOption(flag: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    parseDuration(text);
    return text;
  } catch (e) {
    if (isStintError(e)) throw usageError(`${flag}: ${e.message}`, e.code);
    throw e;
  }
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Writes a file only its owner reads, flushed to disk before anything else happens. */
function writeDurably(path: string, text: string): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * `stint breakglass …`: emergency access (invoke), the sealed secret for when the normal path is down (seal,
 * unseal online or offline), the postmortem after every use, and drills. See docs/breakglass.md.
 */
export function registerBreakglass(program: Command, ctx: CliContext): void {
  const api = (cmd: Command) => createBreakglassApi(httpFrom(ctx, cmd));
  const bg = program
    .command('breakglass')
    .description(
      'emergency access without approval: alerts security, then a postmortem; sealed secrets; drills',
    );

  bg.command('invoke')
    .description('break glass: access now, without approval (needs a fresh second factor and a reason)')
    .argument('<resource>', 'resource id')
    .requiredOption('--role <role>', 'role on the resource')
    .requiredOption('--reason <text>', 'what is on fire (kept in the audit trail, sent to security)')
    .option('--for <duration>', "how long, e.g. 30m (default and limit: the policy's maxDuration)")
    .action(async (resource: string, opts: { role: string; reason: string; for?: string }, cmd: Command) => {
      const duration = durationOption('--for', opts.for);
      const out = ctx.output(cmd);
      const made = await api(cmd).invoke({
        resource,
        role: opts.role,
        reason: opts.reason,
        ...(duration ? { duration } : {}),
      });
      out.result(made, () => {
        out.line(
          `break-glass on ${made.resource}/${made.role}: ${made.request.state} (request ${made.requestId})`,
        );
        out.fields([
          ['until', out.when(made.request.expiresAt)],
          ['alerted', made.channels.join(', ')],
          ['escalates', `after ${Math.round(made.escalateAfterSeconds / 60)}m unacknowledged`],
        ]);
        if (made.request.state === 'active') out.line(`next: stint credentials ${made.requestId}`);
        out.note('note: security has been alerted; a postmortem is opened when this access ends.');
      });
    });

  bg.command('status')
    .description('break-glass invocations: mine, or all (security, auditors, admins)')
    .action(async (_opts: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const { invocations } = await api(cmd).list();
      out.result({ invocations }, () => {
        out.table(
          ['request', 'resource/role', 'holder', 'state', 'invoked', 'escalation', 'acknowledged'],
          invocations.map((i) => [
            i.requestId,
            `${i.resource}/${i.role}`,
            i.holder,
            i.request.state,
            out.when(i.invokedAt),
            String(i.escalationLevel),
            out.when(i.acknowledgedAt),
          ]),
        );
      });
    });

  bg.command('seal')
    .description('seal a break-glass secret k-of-n among officers: prints each officer’s share once')
    .requiredOption(
      '--scope <scope>',
      'the resource whose emergency credential it is, or `stint` for Stint’s recovery key',
    )
    .requiredOption('--label <text>', 'what the secret is, e.g. "prod-db superuser"')
    .requiredOption('--threshold <k>', 'how many officers together open it (at least 2)')
    .requiredOption('--officers <ids>', 'comma-separated user ids, one share each')
    .requiredOption(
      '--secret-file <path>',
      'the secret to seal (`-`: standard input); never on the command line',
    )
    .requiredOption(
      '--bundle <path>',
      'where to write the sealed bundle for offline unsealing (kept by the officers)',
    )
    .option(
      '--out-dir <dir>',
      'write each share to <dir>/share-<officer>.txt (mode 0600) instead of printing it',
    )
    .action(
      async (
        opts: {
          scope: string;
          label: string;
          threshold: string;
          officers: string;
          secretFile: string;
          bundle: string;
          outDir?: string;
        },
        cmd: Command,
      ) => {
        const officers = opts.officers
          .split(',')
          .map((o) => o.trim())
          .filter((o) => o !== '');
        const threshold = Number(opts.threshold);
        const secret = readInput(opts.secretFile, '--secret-file').replace(/\n$/, '');
        if (secret === '') throw usageError('--secret-file: the secret is empty');
        let made: Awaited<ReturnType<typeof makeSeal>>;
        try {
          made = await makeSeal({ scope: opts.scope, label: opts.label, threshold, officers, secret });
        } catch (e) {
          if (isStintError(e)) throw usageError(e.message);
          throw e;
        }
        const { v: _v, ...body } = made.bundle;
        const out = ctx.output(cmd);
        const seal = await api(cmd).createSeal(body);
        // Stored: now the bundle (not secret) for the offline path, then the shares, each shown once.
        writeFileSync(opts.bundle, `${JSON.stringify(made.bundle, null, 2)}\n`, { mode: 0o600 });
        if (opts.outDir) {
          mkdirSync(opts.outDir, { recursive: true, mode: 0o700 });
          for (const s of made.shares)
            writeDurably(join(opts.outDir, `share-${s.officer}.txt`), `${s.text}\n`);
        }
        out.result({ seal, bundle: opts.bundle, ...(opts.outDir ? {} : { shares: made.shares }) }, () => {
          out.line(
            `sealed ${seal.id} for ${seal.scope}: ${seal.threshold} of ${seal.officers.length} officers open it`,
          );
          out.fields([
            ['label', seal.label],
            ['bundle', `${opts.bundle} (for offline unsealing; not secret, keep a copy with each officer)`],
          ]);
          if (opts.outDir) {
            out.line(
              `shares written to ${opts.outDir}/share-<officer>.txt: hand each to its officer alone, then delete it`,
            );
            return;
          }
          for (const s of made.shares) {
            out.line();
            out.line(`share of ${s.officer} (for ${s.officer} alone; it is not shown again):`);
            out.line(`  ${s.text}`);
          }
        });
      },
    );

  bg.command('seals')
    .description('sealed secrets: scope, officers, state')
    .action(async (_opts: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const { seals } = await api(cmd).seals();
      out.result({ seals }, () =>
        out.table(
          ['seal', 'scope', 'label', 'k of n', 'state', 'uses', 'created'],
          seals.map((s) => [
            s.id,
            s.scope,
            s.label,
            `${s.threshold} of ${s.officers.length}`,
            s.state,
            String(s.uses),
            out.when(s.createdAt),
          ]),
        ),
      );
    });

  const unseal = bg
    .command('unseal')
    .description('open a sealed secret: online (open, share, status, take) or --offline with no server')
    .option(
      '--offline',
      'unseal here with no server: needs --bundle, --share-file (k of them), --reason, --record-dir',
    )
    .option('--bundle <path>', 'the sealed bundle `stint breakglass seal` wrote')
    .option('--share-file <path>', 'an officer’s share (repeat for each)', collect)
    .option('--reason <text>', 'why (goes into the record)')
    .option(
      '--record-dir <dir>',
      'where the signed record is written for the server to read (STINT_BREAKGLASS_RECORD_DIR)',
    )
    .option('--operator <name>', 'who runs this (default: the OS user)')
    .action(
      async (
        opts: {
          offline?: boolean;
          bundle?: string;
          shareFile?: string[];
          reason?: string;
          recordDir?: string;
          operator?: string;
        },
        cmd: Command,
      ) => {
        if (!opts.offline) {
          throw usageError(
            'stint breakglass unseal: give a subcommand (open, share, status, take) or --offline',
          );
        }
        await unsealOffline(ctx, cmd, opts);
      },
    );

  unseal
    .command('open')
    .description(
      'open an unseal attempt: officers then give their shares against its id (one attempt at a time)',
    )
    .argument('<scope>', 'the resource (or `stint`) whose sealed secret to open')
    .requiredOption('--reason <text>', 'why')
    .option('--drill', 'prove the shares open the seal without revealing the secret')
    .action(async (scope: string, opts: { reason: string; drill?: boolean }, cmd: Command) => {
      const out = ctx.output(cmd);
      const a = await api(cmd).openUnseal({
        scope,
        reason: opts.reason,
        ...(opts.drill ? { drill: true } : {}),
      });
      out.result(a, () => {
        out.line(
          `unseal attempt ${a.id} of ${a.scope} (${a.purpose}): ${a.threshold} of ${a.officers.join(', ')} needed`,
        );
        out.line(`officers: stint breakglass unseal share ${a.id} --share-file <your share>`);
        out.fields([['open until', out.when(a.expiresAt)]]);
      });
    });

  unseal
    .command('share')
    .description('give my share to an open unseal attempt (officers)')
    .argument('<id>', 'the attempt (its nonce)')
    .requiredOption('--share-file <path>', 'my share (`-`: standard input)')
    .action(async (id: string, opts: { shareFile: string }, cmd: Command) => {
      const text = readInput(opts.shareFile, '--share-file').trim();
      // A slip is caught here, before anything is sent (the server checks the share itself).
      try {
        parseShare(text);
      } catch (e) {
        if (isStintError(e)) throw new CliError(e.code, e.message);
        throw e;
      }
      const out = ctx.output(cmd);
      const a = await api(cmd).give(id, text);
      out.result(a, () => printAttempt(out, a));
    });

  unseal
    .command('status')
    .description('unseal attempts open now or ended today, with who has given a share')
    .action(async (_opts: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const { attempts } = await api(cmd).unseals();
      out.result({ attempts }, () => {
        if (attempts.length === 0) out.line('no unseal attempts today');
        for (const a of attempts) printAttempt(out, a);
      });
    });

  unseal
    .command('take')
    .description('the opened secret, once, to whoever opened the attempt')
    .argument('<id>', 'the attempt')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const s = await api(cmd).take(id);
      out.result(s, () => {
        out.line(s.secret);
        out.note(
          `note: shown once. Seal ${s.sealId} must now be rotated: change the secret, then stint breakglass seal.`,
        );
      });
    });

  bg.command('postmortems')
    .description('postmortems of break-glass uses')
    .option('--open', 'only open ones')
    .option('--overdue', 'only those past their due date')
    .action(async (opts: { open?: boolean; overdue?: boolean }, cmd: Command) => {
      const out = ctx.output(cmd);
      const { postmortems } = await api(cmd).postmortems({
        ...(opts.open ? { state: 'open' } : {}),
        ...(opts.overdue ? { overdue: 'true' } : {}),
      });
      out.result({ postmortems }, () =>
        out.table(
          ['postmortem', 'subject', 'resource', 'owner', 'due', 'state', 'classification'],
          postmortems.map((p) => [
            p.id,
            `${p.subject} ${p.requestId ?? p.sealId ?? ''}`.trim(),
            p.resource ?? '-',
            p.owner,
            `${out.when(p.due)}${p.overdue ? ' OVERDUE' : ''}`,
            p.state,
            p.classification ?? '-',
          ]),
        ),
      );
    });

  bg.command('postmortem')
    .description('show a postmortem, fill it in, or close it')
    .argument('<id>', 'postmortem id')
    .option('--owner <user>', 'who owns it')
    .option('--due <duration>', 'due this long from now, e.g. 3d')
    .option('--classification <kind>', 'drill, emergency or misuse')
    .option('--root-cause <text>', 'why break-glass was needed (or misused)')
    .option('--follow-up <text>', 'a follow-up action (repeat for each; replaces the list)', collect)
    .option('--close', 'close it (needs its classification and root cause)')
    .action(
      async (
        id: string,
        opts: {
          owner?: string;
          due?: string;
          classification?: string;
          rootCause?: string;
          followUp?: string[];
          close?: boolean;
        },
        cmd: Command,
      ) => {
        const due = durationOption('--due', opts.due);
        const fill = {
          ...(opts.owner ? { owner: opts.owner } : {}),
          ...(due ? { due } : {}),
          ...(opts.classification ? { classification: opts.classification } : {}),
          ...(opts.rootCause ? { rootCause: opts.rootCause } : {}),
          ...(opts.followUp ? { followUps: opts.followUp } : {}),
        };
        const out = ctx.output(cmd);
        const client = api(cmd);
        let pm = Object.keys(fill).length > 0 ? await client.fill(id, fill) : await client.postmortem(id);
        if (opts.close) pm = await client.close(id);
        out.result(pm, () => {
          out.fields([
            ['postmortem', pm.id],
            ['subject', `${pm.subject} ${pm.requestId ?? pm.sealId ?? ''}`.trim()],
            ['owner', pm.owner],
            ['due', `${out.when(pm.due)}${pm.overdue ? ' (OVERDUE)' : ''}`],
            ['state', pm.state],
            ['classification', pm.classification ?? '-'],
            ['root cause', pm.rootCause ?? '-'],
          ]);
          for (const f of pm.followUps) out.line(`  follow-up: ${f}`);
          out.line('timeline:');
          for (const e of pm.timeline)
            out.line(`  ${e.seq >= 0 ? `#${e.seq}` : '  '} ${e.at} ${e.actor} ${e.action}`);
        });
      },
    );

  bg.command('drill')
    .description('drill break-glass on a resource for real and check every link; exit 1 if any step fails')
    .argument('<resource>', 'resource id')
    .option('--role <role>', 'role to invoke (default: the entry’s first)')
    .option('--reason <text>', 'recorded with the drill')
    .option('--ack-timeout <duration>', 'how long to wait for every channel to acknowledge', '2m')
    .option('--no-wait', 'answer once started, without waiting for the result')
    .action(
      async (
        resource: string,
        opts: { role?: string; reason?: string; ackTimeout: string; wait: boolean },
        cmd: Command,
      ) => {
        const ackTimeout = durationOption('--ack-timeout', opts.ackTimeout) as string;
        const out = ctx.output(cmd);
        const client = api(cmd);
        let drill = await client.startDrill({
          resource,
          ackTimeout,
          ...(opts.role ? { role: opts.role } : {}),
          ...(opts.reason ? { reason: opts.reason } : {}),
        });
        const deadline = Date.now() + (parseDuration(ackTimeout) + 120) * 1000;
        while (opts.wait && drill.state === 'running' && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 500));
          drill = await client.drill(drill.id);
        }
        out.result(drill, () => {
          out.line(`drill ${drill.id} of ${drill.resource}/${drill.role}: ${drill.state.toUpperCase()}`);
          for (const s of drill.steps)
            out.line(`  ${s.state.toUpperCase().padEnd(7)} ${s.name.padEnd(10)} ${s.detail}`);
        });
        if (drill.state === 'failed') throw new ExitStatus(EXIT_FAILURE);
      },
    );

  bg.command('drills')
    .description('drills and their results')
    .action(async (_opts: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const { drills } = await api(cmd).drills();
      out.result({ drills }, () =>
        out.table(
          ['drill', 'resource', 'started', 'state', 'failed step'],
          drills.map((d) => [
            d.id,
            d.resource,
            out.when(d.startedAt),
            d.state,
            d.steps.find((s) => s.state === 'failed')?.name ?? '-',
          ]),
        ),
      );
    });
}

function printAttempt(out: ReturnType<CliContext['output']>, a: UnsealView): void {
  out.line(`${a.id} ${a.scope} (${a.purpose}) ${a.state}: ${a.given.length} of ${a.threshold} shares`);
  out.fields([
    ['given by', a.given.join(', ') || '-'],
    ['still needed', a.remaining > 0 ? String(a.remaining) : undefined],
    ['wrong shares', a.badShares > 0 ? String(a.badShares) : undefined],
    ['open until', a.state === 'open' ? out.when(a.expiresAt) : undefined],
    ['secret', a.secretReady ? `ready for ${a.openedBy}: stint breakglass unseal take ${a.id}` : undefined],
  ]);
}

/**
 * With Stint down: check each share against the bundle's commitments (naming whose share is wrong, never which
 * bytes), open the seal, and write the record signed with the key inside it, durably, before the secret is shown.
 * The server reads the record at its next start: alerted, forced to rotate, a postmortem opened.
 */
async function unsealOffline(
  ctx: CliContext,
  cmd: Command,
  opts: { bundle?: string; shareFile?: string[]; reason?: string; recordDir?: string; operator?: string },
): Promise<void> {
  if (!opts.bundle || !opts.shareFile?.length || !opts.reason?.trim() || !opts.recordDir) {
    throw usageError('--offline needs --bundle, --share-file (one per officer), --reason and --record-dir');
  }
  const bundle = JSON.parse(readInput(opts.bundle, '--bundle')) as SealBundle;
  if (bundle.v !== 1 || typeof bundle.id !== 'string' || !Array.isArray(bundle.officers)) {
    throw new CliError('BAD_RESPONSE', `${opts.bundle} is not a break-glass bundle`);
  }
  const byOfficer = new Map<string, Uint8Array>();
  for (const file of opts.shareFile) {
    try {
      const share = parseShare(readInput(file, '--share-file'));
      checkShare(bundle, share);
      // One officer, one share: a second share of the same officer adds nothing and is refused.
      if (byOfficer.has(share.officer)) {
        throw new CliError('SHARE_ALREADY_GIVEN', `two shares of ${share.officer}: each officer gives one`);
      }
      byOfficer.set(share.officer, share.bytes);
    } catch (e) {
      if (isStintError(e)) throw new CliError(e.code, `${file}: ${e.message}`);
      throw e;
    }
  }
  if (byOfficer.size < bundle.threshold) {
    throw new CliError(
      'UNSEAL_FAILED',
      `${byOfficer.size} of ${bundle.threshold} officers’ shares: not enough`,
    );
  }
  let opened: Awaited<ReturnType<typeof openSeal>>;
  try {
    opened = await openSeal(bundle, [...byOfficer.values()]);
  } catch (e) {
    if (isStintError(e)) throw new CliError(e.code, e.message);
    throw e;
  }
  const at = ctx.now();
  const signed = signOfflineRecord(
    {
      kind: OFFLINE_RECORD_KIND,
      v: 1,
      nonce: newNonce(),
      sealId: bundle.id,
      scope: bundle.scope,
      at: at.toISOString(),
      reason: (opts.reason as string).trim(),
      officers: [...byOfficer.keys()],
      operator: opts.operator ?? userInfo().username,
      host: hostname(),
    },
    opened.recordKey,
  );
  mkdirSync(opts.recordDir, { recursive: true, mode: 0o700 });
  const file = join(
    opts.recordDir,
    `offline-unseal-${bundle.id}-${at.getTime()}-${signed.record.nonce.slice(0, 8)}.json`,
  );
  // The record is on disk before the secret is on screen: no offline use without its trace.
  writeDurably(file, `${JSON.stringify(signed, null, 2)}\n`);
  const out = ctx.output(cmd);
  out.result({ record: file, sealId: bundle.id, scope: bundle.scope, secret: opened.secret }, () => {
    out.line(opened.secret);
    out.note(
      `note: record written to ${file}: put it in the server's STINT_BREAKGLASS_RECORD_DIR. When Stint is back it ` +
        `alerts security, opens a postmortem and requires ${bundle.scope}'s secret to be rotated and re-sealed.`,
    );
  });
}
