import type { Command } from 'commander';
import type { ConversionReport, ConversionView } from '../../conversion/conversion-service.js';
import type { ResourceInventoryView } from '../../conversion/inventory.js';
import { usageError } from '../cli-error.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { createHttpClient, DEFAULT_URL, type HttpClient } from '../http-client.js';
import type { Output } from '../output.js';
import { truncate } from '../output.js';
import { readStoredToken } from '../token-file.js';

const QUARTER = /^\d{4}-Q[1-4]$/;
const enc = encodeURIComponent;

function conversionApi(http: HttpClient) {
  return {
    inventory: () => http.get<{ resources: ResourceInventoryView[] }>('/v1/inventory'),
    list: (quarter?: string) => http.get<ConversionView[]>('/v1/conversions', { quarter }),
    show: (id: string) => http.get<ConversionView>(`/v1/conversions/${enc(id)}`),
    plan: (body: Record<string, string>) => http.change<ConversionView>('/v1/conversions', body),
    step: (id: string, step: 'entitled' | 'removed' | 'done') =>
      http.change<ConversionView>(`/v1/conversions/${enc(id)}/${step}`),
    abandon: (id: string, reason: string) =>
      http.change<ConversionView>(`/v1/conversions/${enc(id)}/abandon`, { reason }),
    report: (quarter: string) => http.get<ConversionReport>('/v1/conversion/report', { quarter }),
  };
}

function api(ctx: CliContext, cmd: Command) {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  return conversionApi(
    createHttpClient({
      baseUrl: g.url ?? ctx.io.env.STINT_URL ?? DEFAULT_URL,
      token: g.token ?? ctx.io.env.STINT_TOKEN ?? readStoredToken(ctx.io.env),
      fetch: ctx.io.fetch,
    }),
  );
}

function quarterFlag(q: string | undefined, required: boolean): string | undefined {
  if (q === undefined) {
    if (required) throw usageError('name the quarter: --quarter 2026-Q4');
    return undefined;
  }
  if (!QUARTER.test(q)) throw usageError(`--quarter must look like 2026-Q4, not "${q}"`);
  return q;
}

function printConversion(out: Output, c: ConversionView): void {
  out.fields([
    ['id', c.id],
    ['state', c.state],
    ['quarter', c.quarter],
    ['resource', `${c.resource} (${c.kind})`],
    ['principal', c.principal],
    ['standing', c.privilege],
    ['just in time', c.jitRole],
    ['rules', c.rules.length > 0 ? c.rules.join(', ') : undefined],
    ['planned', `${c.plannedAt} by ${c.plannedBy}`],
    ['entitled', c.entitledAt ?? undefined],
    ['removed', c.removedAt ?? undefined],
    ['ended', c.endedAt ?? undefined],
    ['note', c.note ?? undefined],
  ]);
}

const listHead = ['id', 'quarter', 'state', 'resource', 'principal', 'standing', 'jit role'];
const listRow = (c: ConversionView) => [
  c.id,
  c.quarter,
  c.state,
  c.resource,
  c.principal,
  c.privilege,
  c.jitRole,
];

/**
 * `stint conversion …`: the quarterly conversion of standing access to just-in-time entitlements, through the
 * server (which reads the targets as Stint's admin and writes every step to the audit trail).
 */
export function registerConversion(program: Command, ctx: CliContext): void {
  const conversion = program
    .command('conversion')
    .description(
      'convert standing privilege to just-in-time entitlements, quarter by quarter: inventory, plan, entitled, ' +
        'remove, done, report (security and admins change; auditors read)',
    );

  conversion
    .command('inventory')
    .description(
      "standing privilege on each target beside the policy's just-in-time entitlements (server-side)",
    )
    .action(async (_flags: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const inv = await api(ctx, cmd).inventory();
      out.result(inv, () => {
        for (const r of inv.resources) {
          out.line(`${r.resource} (${r.kind})`);
          if (r.inventory === 'none') out.line(`  no inventory: ${r.why}`);
          else if (!r.ok) out.line(`  ✗ ${r.error?.code}: ${r.error?.message}`);
          else if (r.principals.length === 0) out.line('  no standing privilege found');
          else
            out.table(
              ['principal', 'standing privilege', 'why it counts'],
              r.principals.map((p) => [p.principal, p.privileges.join('\n'), truncate(p.reason, 60)]),
            );
          out.line(
            `  just in time: ${
              r.entitlements
                .map((e) => `${e.role} [${e.grants.join(', ')}]${e.rules.length === 0 ? ' (no rule)' : ''}`)
                .join('; ') || 'none'
            }`,
          );
        }
      });
    });

  conversion
    .command('plan')
    .description('plan converting one standing grant, as the inventory prints it, to a just-in-time role')
    .requiredOption('--resource <id>', 'the resource')
    .requiredOption('--principal <name>', "the standing principal, as listed (a role, 'user'@'host')")
    .requiredOption('--privilege <text>', 'one of its standing privileges, verbatim (member of app_admin)')
    .requiredOption('--role <role>', 'the policy role that gives it just in time')
    .requiredOption('--quarter <quarter>', 'the quarter it is planned in, e.g. 2026-Q4')
    .option('--note <text>', 'why, or the ticket')
    .action(async (flags: Record<string, string>, cmd: Command) => {
      const out = ctx.output(cmd);
      const quarter = quarterFlag(flags.quarter, true) as string;
      const made = await api(ctx, cmd).plan({
        resource: flags.resource as string,
        principal: flags.principal as string,
        privilege: flags.privilege as string,
        jitRole: flags.role as string,
        quarter,
        ...(flags.note ? { note: flags.note } : {}),
      });
      out.result(made, () => printConversion(out, made));
    });

  const steps = [
    [
      'entitled',
      'entitled',
      'confirm the loaded policy has the just-in-time role with a rule (Stint verifies)',
    ],
    ['remove', 'removed', 'remove the standing grant on the target and verify it is gone'],
    ['done', 'done', 'close the conversion'],
  ] as const;
  for (const [name, step, description] of steps) {
    conversion
      .command(`${name} <id>`)
      .description(description)
      .action(async (id: string, _flags: unknown, cmd: Command) => {
        const out = ctx.output(cmd);
        const c = await api(ctx, cmd).step(id, step);
        out.result(c, () => printConversion(out, c));
      });
  }

  conversion
    .command('abandon <id>')
    .description('give a conversion up before it is done')
    .requiredOption('--reason <text>', 'why')
    .action(async (id: string, flags: { reason: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const c = await api(ctx, cmd).abandon(id, flags.reason);
      out.result(c, () => printConversion(out, c));
    });

  conversion
    .command('show <id>')
    .description('one conversion and the step it reached')
    .action(async (id: string, _flags: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const c = await api(ctx, cmd).show(id);
      out.result(c, () => printConversion(out, c));
    });

  conversion
    .command('list')
    .description('conversions, optionally of one quarter')
    .option('--quarter <quarter>', 'e.g. 2026-Q4')
    .action(async (flags: { quarter?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const all = await api(ctx, cmd).list(quarterFlag(flags.quarter, false));
      out.result(all, () => {
        if (all.length === 0) out.line('no conversions');
        else out.table(listHead, all.map(listRow));
      });
    });

  conversion
    .command('report')
    .description("a quarter's progress: planned, done, left, and the standing privilege that remains")
    .requiredOption('--quarter <quarter>', 'e.g. 2026-Q4')
    .action(async (flags: { quarter?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const report = await api(ctx, cmd).report(quarterFlag(flags.quarter, true) as string);
      out.result(report, () => {
        out.fields([
          ['quarter', report.quarter],
          ['planned', String(report.planned)],
          ['done', String(report.done)],
          ['abandoned', String(report.abandoned)],
          ['left', String(report.left)],
        ]);
        out.line();
        if (report.remaining.length === 0) out.line('no standing privilege left in the plan');
        else {
          out.line('standing privilege that remains:');
          out.table(
            ['id', 'state', 'resource', 'principal', 'standing', 'jit role'],
            report.remaining.map((r) => [r.id, r.state, r.resource, r.principal, r.privilege, r.jitRole]),
          );
        }
      });
    });
}
