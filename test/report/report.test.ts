import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditPurge } from '../../src/audit/audit-purge.js';
import type { Report } from '../../src/report/report-types.js';
import { run } from '../cli/support.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';
import { seedReport } from './seed.js';

/**
 * The report of 2026-Q3 on seeded data, figure by figure as counted by hand from test/report/seed.ts:
 *
 * in the period: 11 requests (prod-db 8, payments-db 1, staging-db 2); approved by people r1 4m, r2 8m, r3 20m,
 * r4 30m (carol at 6m, sam at 30m), r5 2m (bob); auto r6, r7; denied r8 (no reason); timed out r9; withdrawn r10;
 * pending r13. Sorted approval times 2m 4m 8m 20m 30m: median (3rd of 5) 8m, p90 (5th) 30m.
 */
describe.each(STORE_KINDS)('the access report on %s', (kind) => {
  let h: Harness;
  let report: Report;

  beforeAll(async () => {
    h = await createHarness(kind, { stepUp: false });
    await seedReport(h);
    const res = await h.as('erin').get('/v1/report?period=2026-Q3');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    report = res.body;
  });
  afterAll(async () => {
    await h?.close();
  });

  it('names its period, UTC, end exclusive', () => {
    expect(report.period).toEqual({
      label: '2026-Q3',
      since: '2026-07-01T00:00:00.000Z',
      until: '2026-10-01T00:00:00.000Z',
    });
  });

  it('counts requests, outcomes and the auto-approved share', () => {
    expect(report.requests).toEqual({
      total: 11,
      byResource: { 'payments-db': 1, 'prod-db': 8, 'staging-db': 2 },
      byTier: { auto: 2, manager: 5, 'manager+two-person': 1, peer: 2, security: 1 },
      approved: 5,
      autoApproved: 2,
      autoApprovedShare: 2 / 11,
      denied: 1,
      timedOut: 1,
      withdrawn: 1,
      failed: 0,
      pending: 1,
    });
    expect(report.denials).toEqual({ byResource: { 'prod-db': 1 }, byApprover: { carol: 1 } });
    expect(report.timeOuts).toEqual({ byResource: { 'prod-db': 1 } });
  });

  it('gives approval time p50/p90 by tier, resource and approver (nearest rank)', () => {
    const t = (count: number, p50: number, p90: number) => ({ count, p50Seconds: p50, p90Seconds: p90 });
    expect(report.approvalTime).toEqual({
      overall: t(5, 480, 1800),
      byTier: { manager: t(3, 480, 1200), 'manager+two-person': t(1, 1800, 1800), peer: t(1, 120, 120) },
      byResource: { 'payments-db': t(1, 1800, 1800), 'prod-db': t(4, 240, 1200) },
      // carol: 4m, 6m (her part of r4), 8m, 20m.
      byApprover: { bob: t(1, 120, 120), carol: t(4, 360, 1200), sam: t(1, 1800, 1800) },
    });
  });

  it('counts break-glass uses and follows postmortems to the period’s end', () => {
    expect(report.breakglass).toEqual({ uses: 2, byResource: { 'payments-db': 1, 'prod-db': 1 } });
    // pm1 opened before, closed in; pm2 overdue; pm3 due later; pm4 past due, closed only after; pm5 after.
    expect(report.postmortems).toEqual({
      openedInPeriod: 3,
      closedInPeriod: 1,
      openAtEnd: 3,
      overdueAtEnd: 2,
      overdue: ['pm2', 'pm4'],
    });
    expect(report.purged).toBeNull();
  });

  it('warns when a median leaves 5–15 min either way, and of missing or pasted reasons', () => {
    expect(report.reasons).toEqual({
      missing: 1,
      repeated: [{ text: 'deploy', count: 3 }],
      approvalsWithoutComment: 1,
      repeatedComments: [{ approver: 'carol', text: 'ok', count: 3 }],
    });
    expect(report.warnings.map((w) => w.code).sort()).toEqual([
      'MEDIAN_TOO_FAST',
      'MEDIAN_TOO_FAST',
      'MEDIAN_TOO_SLOW',
      'MEDIAN_TOO_SLOW',
      'REASONS_MISSING',
      'REASONS_REPEATED',
      'REVIEW_COMMENTS_REPEATED',
    ]);
    const text = report.warnings.map((w) => w.message).join('\n');
    expect(text).toContain('median approval time 30m of tier manager+two-person (1 approval) is above 15m');
    expect(text).toContain('median approval time 2m of approver bob (1 approval) is under 5m');
    expect(text).toContain('median approval time 30m of approver sam');
    expect(text).toContain('median approval time 2m of tier peer');
    expect(text).not.toContain('of all requests');
  });

  it('since/until name the same period; bad or missing periods are refused; only reviewers read it', async () => {
    const same = await h.as('sam').get('/v1/report?since=2026-07-01&until=2026-09-30');
    expect(same.status).toBe(200);
    expect({ ...same.body, period: null, generatedAt: null }).toEqual({
      ...report,
      period: null,
      generatedAt: null,
    });
    for (const q of [
      'period=2026-Q5',
      'period=2026-13',
      'since=2026-07-01',
      'period=2026-Q3&since=2026-07-01',
      '',
      'since=2026-07-01T00:00:00&until=2026-08-01',
    ]) {
      const res = await h.as('erin').get(`/v1/report?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.error.code, q).toMatch(/BAD_REQUEST|VALIDATION_FAILED/);
    }
    for (const who of ['alice', 'carol', 'mallory']) {
      expect((await h.as(who).get('/v1/report?period=2026-Q3')).status).toBe(403);
    }
  });

  it('stint report prints the table, CSV and JSON of the same figures', async () => {
    const url = await h.app.listen({ port: 0, host: '127.0.0.1' });
    const cli = (...argv: string[]) =>
      run(['--url', url, '--token', h.tokens.erin as string, 'report', ...argv]);
    const table = await cli('--period', '2026-Q3');
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^period: +2026-Q3 /m);
    expect(table.stdout).toMatch(/^requests: +11$/m);
    expect(table.stdout).toMatch(/^auto-approved: +2 \(18\.2%\)$/m);
    expect(table.stdout).toMatch(/│ all +│ 5 +│ 8m +│ 30m +│/);
    expect(table.stdout).toContain('MEDIAN_TOO_SLOW: median approval time 30m of approver sam');
    const csv = await cli('--period', '2026-Q3', '--csv');
    expect(csv.code).toBe(0);
    const lines = csv.stdout.trimEnd().split('\r\n');
    expect(lines[0]).toBe('section,dimension,key,metric,value');
    expect(lines).toContain('approval_time,,all,p50_seconds,480');
    expect(lines).toContain('approval_time,approver,carol,p90_seconds,1200');
    expect(lines).toContain('reasons,repeated,deploy,count,3');
    expect(lines).toContain('breakglass,,,uses,2');
    const json = await run([
      '--url',
      url,
      '--token',
      h.tokens.erin as string,
      '--json',
      'report',
      '--period',
      '2026-Q3',
    ]);
    expect({ ...JSON.parse(json.stdout), generatedAt: null }).toEqual({ ...report, generatedAt: null });
    const both = await run([
      '--url',
      url,
      '--token',
      h.tokens.erin as string,
      '--json',
      'report',
      '--period',
      '2026-Q3',
      '--csv',
    ]);
    expect(both.code).toBe(2);
    expect((await cli()).code).toBe(2);
    const typo = await cli('--period', '2026-Q5');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('is not a quarter');
    const refused = await run([
      '--url',
      url,
      '--token',
      h.tokens.alice as string,
      'report',
      '--period',
      '2026-Q3',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('FORBIDDEN');
  });

  // Last: it purges the seeded events for good.
  it('a period with purged events says so: counts by action stay, what the bodies held is named as lost', async () => {
    const purge = createAuditPurge({
      store: h.stint.deps.store,
      writer: h.stint.audit.writer,
      clock: () => new Date('2027-10-15T00:00:00Z'),
      retentionDays: 365,
    });
    const { purged } = await purge();
    expect(purged).toBe(11);
    const res = await h.as('erin').get('/v1/report?period=2026-Q3');
    expect(res.status).toBe(200);
    const after: Report = res.body;
    // Requests live in their own table (never purged): those figures stand.
    expect(after.requests).toEqual(report.requests);
    expect(after.approvalTime).toEqual(report.approvalTime);
    expect(after.breakglass).toEqual({ uses: 2, byResource: { '(purged)': 2 } });
    expect(after.purged).toMatchObject({ events: 7, postmortemEvents: 6 });
    expect(after.purged?.lastSeq ?? 0).toBeGreaterThanOrEqual(after.purged?.firstSeq ?? 1);
    const warning = after.warnings.find((w) => w.code === 'EVENTS_PURGED');
    expect(warning?.message).toMatch(
      /^7 audit event\(s\) of this period \(seq \d+\.\.\d+\) were purged by retention/,
    );
    expect(warning?.message).toContain('6 postmortem event(s) up to the period');
    // The postmortems can no longer be followed: it says so instead of reporting them closed.
    expect(after.postmortems.openAtEnd).toBe(0);
  });
});
