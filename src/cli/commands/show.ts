import type { Command } from 'commander';
import { formatDuration } from '../../domain/duration.js';
import type { RequestView } from '../../requests/request-types.js';
import type { CliContext } from '../context.js';
import type { Output } from '../output.js';
import {
  expiresField,
  needsLines,
  resourceRole,
  revocationLine,
  vanishedLine,
  wasAutoApproved,
} from '../render-request.js';

export function registerShow(program: Command, ctx: CliContext): void {
  program
    .command('show')
    .description('show one request in full: approvals, reviews, grant and revocation')
    .argument('<id>', 'request id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const r = await ctx.api(cmd).getRequest(id);
      out.result(r, () => renderRequest(out, r));
    });
}

export function renderRequest(out: Output, r: RequestView): void {
  const ended =
    r.endedAt === null
      ? undefined
      : `${out.when(r.endedAt)}${r.endedBy ? ` by ${r.endedBy}` : ''}${r.endReason ? `: ${r.endReason}` : ''}`;
  out.fields([
    ['id', r.id],
    ['state', r.state],
    ['requester', r.requester],
    ['access', resourceRole(r)],
    ['reason', r.reason],
    ['duration', formatDuration(r.durationSeconds)],
    ['approval', wasAutoApproved(r) ? 'auto (approved automatically)' : r.tiers.join(' + ')],
    ['approvers', r.eligibleApprovers.length > 0 ? r.eligibleApprovers.join(', ') : '-'],
    ['created', out.when(r.createdAt)],
    ['pending until', r.state === 'pending' ? out.when(r.pendingUntil) : undefined],
    ['approved', r.approvedAt ? out.when(r.approvedAt) : undefined],
    ['activated', r.activatedAt ? out.when(r.activatedAt) : undefined],
    ['expires', expiresField(r, out.when)],
    ['ended', ended],
    ['credential', r.credentialShown ? 'already shown' : 'not shown yet'],
    ['policy', `rule ${r.ruleId}, version ${r.policyVersion}`],
  ]);
  const needs = needsLines(r);
  if (needs.length > 0) {
    out.line();
    for (const line of needs) out.line(line);
  }
  if (r.reviews.length > 0) {
    out.line();
    out.line('reviews:');
    for (const review of r.reviews) {
      const verb = review.decision === 'approve' ? 'approved' : 'denied';
      const comment = review.comment ? `: ${review.comment}` : '';
      out.line(`  ${out.when(review.at)} ${review.reviewer} ${verb}${comment}`);
    }
  }
  const revocation = revocationLine(r);
  const vanished = vanishedLine(r, out.when);
  if (revocation || vanished) out.line();
  if (vanished) out.line(vanished);
  if (revocation) out.line(revocation);
}
