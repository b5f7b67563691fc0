import type { Command } from 'commander';
import { isStintError } from '../../domain/errors.js';
import { periodOf } from '../../report/period.js';
import { reportCsv, reportView } from '../../report/report-render.js';
import { usageError } from '../cli-error.js';
import type { CliContext } from '../context.js';

interface ReportFlags {
  period?: string;
  since?: string;
  until?: string;
  csv?: boolean;
}

export function registerReport(program: Command, ctx: CliContext): void {
  program
    .command('report')
    .description(
      'the access report of a period: approval times by tier, resource and approver, volumes, denials, ' +
        'time-outs, break-glass uses and postmortems, with warnings (security, auditors, admins)',
    )
    .option('--period <period>', 'a quarter (2026-Q3), a month (2026-07) or a year (2026), UTC')
    .option('--since <when>', 'first day (YYYY-MM-DD, UTC) or time (ISO 8601 with zone), inclusive')
    .option('--until <when>', 'last day (YYYY-MM-DD, inclusive) or time (ISO 8601 with zone, exclusive)')
    .option('--csv', 'print CSV (one figure a row: section,dimension,key,metric,value)')
    .action(async (flags: ReportFlags, cmd: Command) => {
      const out = ctx.output(cmd);
      if (flags.csv && out.json) throw usageError('--csv and --json: pick one');
      if (flags.period !== undefined && (flags.since !== undefined || flags.until !== undefined)) {
        throw usageError('--period or --since/--until, not both');
      }
      if (flags.period === undefined && (flags.since === undefined || flags.until === undefined)) {
        throw usageError('name the period: --period 2026-Q3, or --since and --until');
      }
      // Checked here as the server checks it: a typo is a usage error before any call.
      try {
        periodOf(flags);
      } catch (e) {
        if (isStintError(e)) throw usageError(e.message);
        throw e;
      }
      const report = await ctx.api(cmd).report({
        ...(flags.period !== undefined ? { period: flags.period } : {}),
        ...(flags.since !== undefined ? { since: flags.since } : {}),
        ...(flags.until !== undefined ? { until: flags.until } : {}),
      });
      if (flags.csv) {
        ctx.io.stdout.write(reportCsv(report));
        return;
      }
      out.result(report, () => {
        const view = reportView(report);
        out.fields(view.fields);
        for (const t of view.tables) {
          out.line();
          out.line(t.title);
          if (t.rows.length === 0) out.line('  (none)');
          else out.table(t.head, t.rows);
        }
        out.line();
        if (view.warnings.length === 0) out.line('no warnings');
        else {
          out.line('warnings:');
          for (const w of view.warnings) out.line(`  ${w}`);
        }
      });
    });
}
