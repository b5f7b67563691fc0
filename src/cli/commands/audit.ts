import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { integerArg } from '../options.js';
import { actorLabel, shortDetails } from '../render-audit-event.js';
import { registerAuditExport } from './audit-export.js';
import { registerAuditKey } from './audit-keys.js';
import { registerAuditProofs } from './audit-proof.js';
import { registerAuditTail } from './audit-tail.js';
import { registerAuditVerify } from './audit-verify.js';

interface AuditListOptions {
  request?: string;
  after?: number;
  limit?: number;
}

export function registerAudit(program: Command, ctx: CliContext): void {
  const audit = program
    .command('audit')
    .description('read, verify, prove and export the audit trail (docs/audit.md)');
  audit
    .command('list')
    .description('list audit events, oldest first')
    .option('--request <id>', 'only events about this request')
    .option('--after <seq>', 'only events after this sequence number', integerArg(0))
    .option('--limit <n>', 'at most this many', integerArg(1, 1000))
    .action(async (opts: AuditListOptions, cmd: Command) => {
      const out = ctx.output(cmd);
      const body = await ctx
        .api(cmd)
        .audit({ requestId: opts.request, afterSeq: opts.after, limit: opts.limit });
      out.result(body, () => {
        if (body.events.length === 0) {
          out.line('no audit events');
          return;
        }
        out.table(
          ['seq', 'time', 'actor', 'action', 'request', 'details'],
          body.events.map((e) => [
            String(e.seq),
            out.when(e.at, { seconds: true }),
            actorLabel(e),
            e.action,
            e.requestId ?? '-',
            shortDetails(e.details),
          ]),
        );
      });
    });
  registerAuditTail(audit, ctx);
  registerAuditVerify(audit, ctx);
  registerAuditExport(audit, ctx);
  registerAuditProofs(audit, ctx);
  registerAuditKey(audit, ctx);
}
