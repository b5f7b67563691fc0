/**
 * Issue 27's floors, each computed from figures of one run. Where absolute figures drift about 2× between runs on
 * shared machines, a floor is a ratio to a calibration figure taken in the same run (bench/calibration.ts);
 * latencies that are promises to people (revocation within a second, proofs under a millisecond, memory) stay
 * absolute. A figure this run did not take reads NOT RUN, never PASS.
 */
import Table from 'cli-table3';
import type { Calibration } from './calibration.js';
import type { FloorRow, Results } from './results-types.js';

export type { FloorRow } from './results-types.js';

import { round } from './stats.js';

type Better = 'lower' | 'higher';

function row(
  floor: string,
  limit: { better: Better; at: number; unit: string },
  measured?: { value: number; text: string; reference?: string },
): FloorRow {
  const sign = limit.better === 'lower' ? '≤' : '≥';
  const limitText = `${sign} ${limit.at}${limit.unit}`;
  if (!measured || !Number.isFinite(measured.value)) {
    return { floor, measured: '—', reference: null, value: null, limit: limitText, result: 'NOT RUN' };
  }
  const pass = limit.better === 'lower' ? measured.value <= limit.at : measured.value >= limit.at;
  return {
    floor,
    measured: measured.text,
    reference: measured.reference ?? null,
    value: measured.value,
    limit: limitText,
    result: pass ? 'PASS' : 'FAIL',
  };
}

const STORES = ['sqlite', 'postgresql'] as const;
/** The leaf rate nearest in time to the audit figures. */
const leafRate = (c: Calibration) => c.leafHashesPerSecondBeforeAudit ?? c.leafHashesPerSecond;
const n = (x: number) => x.toLocaleString('en-US');

export function computeFloors(r: Results): FloorRow[] {
  const c = r.calibration;
  const rows: FloorRow[] = [];

  for (const store of STORES) {
    const cred = r.credentialLatency.find((x) => x.store === store);
    const own = c?.pgCreateRoleLogin.p50;
    rows.push(
      row(
        `approve → usable PostgreSQL credential p50 ÷ PostgreSQL's own CREATE ROLE + first login p50 (${store} store)`,
        { better: 'lower', at: 2, unit: '×' },
        cred && own
          ? {
              value: round(cred.total.p50 / own, 2),
              text: `${cred.total.p50} ms`,
              reference: `${own} ms`,
            }
          : undefined,
      ),
    );
  }
  for (const store of STORES) {
    const stint = r.throughput.find((x) => x.store === store && x.transport === 'http' && x.concurrency > 1);
    const bare = c?.bareHandler.find((x) => x.store === store);
    rows.push(
      row(
        `request+approve cycles/s through real HTTP ÷ bare Fastify handler's (${store} store)`,
        { better: 'higher', at: 0.5, unit: '×' },
        stint && bare
          ? {
              value: round(stint.cyclesPerSecond / bare.cyclesPerSecond, 2),
              text: `${stint.cyclesPerSecond} /s`,
              reference: `${bare.cyclesPerSecond} /s`,
            }
          : undefined,
      ),
    );
  }
  for (const store of STORES) {
    const lag = r.restartLag.find((x) => x.store === store);
    rows.push(
      row(
        `revocation lag after a restart, ${lag?.overdue ?? 100} overdue, p99 (${store} store)`,
        { better: 'lower', at: 1000, unit: ' ms' },
        lag ? { value: lag.lag.p99, text: `${lag.lag.p99} ms` } : undefined,
      ),
    );
  }
  for (const store of STORES) {
    const burst = r.expiryBurst?.find((x) => x.store === store);
    rows.push(
      row(
        `${burst?.grants ?? 500} grants expiring in one instant: session end p99 (${store} store)`,
        { better: 'lower', at: 1000, unit: ' ms' },
        burst ? { value: burst.sessionEnd.p99, text: `${burst.sessionEnd.p99} ms` } : undefined,
      ),
    );
  }
  const takeover = r.takeover;
  rows.push(
    row(
      "a dead server's claimed issuance resumed by another, worst of the tries (PostgreSQL store)",
      { better: 'lower', at: 5000, unit: ' ms' },
      takeover?.resumed.n ? { value: takeover.resumed.max, text: `${takeover.resumed.max} ms` } : undefined,
    ),
  );
  const ssh = r.recording?.ssh;
  rows.push(
    row(
      'SSH recording proxy: session end at a revoke, p99',
      { better: 'lower', at: 1000, unit: ' ms' },
      ssh ? { value: ssh.endLag.revoke.p99, text: `${ssh.endLag.revoke.p99} ms` } : undefined,
    ),
    row(
      'SSH recording proxy: session end at the window’s end, p99',
      { better: 'lower', at: 1000, unit: ' ms' },
      ssh ? { value: ssh.endLag.windowEnd.p99, text: `${ssh.endLag.windowEnd.p99} ms` } : undefined,
    ),
    row(
      'SSH recording proxy: bulk throughput ÷ a direct login’s (aim, issue 23)',
      { better: 'higher', at: 0.8, unit: '×' },
      ssh
        ? {
            value: ssh.throughput.ratio,
            text: `${ssh.throughput.proxyMiBps} MiB/s`,
            reference: `${ssh.throughput.directMiBps} MiB/s`,
          }
        : undefined,
    ),
  );
  const pgProxy = r.recording?.pg;
  for (const mode of ['simple', 'extended'] as const) {
    const f = pgProxy?.[mode];
    rows.push(
      row(
        `PostgreSQL recording proxy: pgbench -S TPS ÷ direct, ${mode} protocol (aim, issue 23)`,
        { better: 'higher', at: 0.8, unit: '×' },
        f
          ? {
              value: f.ratio,
              text: `${Math.round(f.proxyTps)} tps`,
              reference: `${Math.round(f.directTps)} tps`,
            }
          : undefined,
      ),
    );
  }
  const a = r.audit;
  rows.push(
    row(
      `durable audit appends/s (${a?.batchSize ?? 500} per transaction) ÷ raw SHA-256 leaf rate`,
      { better: 'higher', at: 0.05, unit: '×' },
      a && c
        ? {
            value: round(a.appendsPerSecondBatched / leafRate(c), 3),
            text: `${n(a.appendsPerSecondBatched)} /s`,
            reference: `${n(leafRate(c))} /s`,
          }
        : undefined,
    ),
    row(
      `audit inclusion proof p99 at ${a ? n(a.events) : '1,000,000'} events`,
      { better: 'lower', at: 1, unit: ' ms' },
      a ? { value: a.inclusionProofMs.p99, text: `${a.inclusionProofMs.p99} ms` } : undefined,
    ),
  );
  const mem = r.memory;
  rows.push(
    row(
      `server peak RSS with ${mem ? n(mem.grants) : '10,000'} active grants (worst of the shipped runs)`,
      { better: 'lower', at: 200, unit: ' MB' },
      mem ? { value: mem.worstPeakMb, text: `${mem.worstPeakMb} MB` } : undefined,
    ),
  );
  const cli = r.cliStart;
  const bare = cli ? `${cli.nodeBare.p50} ms` : undefined;
  rows.push(
    row(
      '`stint --version` cold start p50 ÷ `node -e 0` p50',
      { better: 'lower', at: 1.3, unit: '×' },
      cli ? { value: cli.versionRatio, text: `${cli.version.p50} ms`, reference: bare } : undefined,
    ),
    // Held against the same POST from a bare node:http script, not `node -e 0` alone: that script (no CLI)
    // already takes ~1.5× `node -e 0` (node:http's load and the server's own handling), so ≤ 1.3× of
    // `node -e 0` is out of any CLI's reach; what the CLI adds on top of the exchange is what this floor holds.
    row(
      '`stint request` against a local server, p50 ÷ the same POST from a bare `node -e` script p50',
      { better: 'lower', at: 1.3, unit: '×' },
      cli
        ? {
            value: cli.requestOverBare,
            text: `${cli.request.p50} ms (${cli.requestRatio}× node -e 0)`,
            reference: `${cli.requestBare.p50} ms`,
          }
        : undefined,
    ),
  );
  const soak = r.soak;
  const soakName = soak
    ? `${soak.plan.minutes}-minute soak at ${soak.plan.rate} cycles/s (${soak.plan.store} store)`
    : 'soak';
  rows.push(
    row(
      `${soakName}: server RSS at the end ÷ after warm-up`,
      { better: 'lower', at: 1.1, unit: '×' },
      soak
        ? { value: soak.rssGrowth, text: `${soak.rssEndMb} MB`, reference: `${soak.rssAfterWarmupMb} MB` }
        : undefined,
    ),
    row(
      `${soakName}: cycle p99 of the last minute ÷ the first after warm-up`,
      { better: 'lower', at: 1.25, unit: '×' },
      soak
        ? {
            value: soak.p99Drift,
            text: `${soak.minutes.at(-1)?.cycle.p99} ms`,
            reference: `${soak.minutes.find((m) => m.minute * 60 >= soak.plan.warmupSeconds)?.cycle.p99} ms`,
          }
        : undefined,
    ),
    row(
      `${soakName}: issuances failed and API errors (the target could have served them)`,
      { better: 'lower', at: 0, unit: '' },
      soak
        ? (() => {
            const errors = Object.values(soak.apiErrors).reduce((a, b) => a + b, 0);
            return {
              value: soak.failedIssuances + errors,
              text: `${soak.failedIssuances} failed, ${errors} errors; ${n(soak.completed)} done, ${n(soak.shed)} of ${n(soak.offered)} held back by the driver's ${soak.plan.maxInFlight}-in-flight bound`,
            };
          })()
        : undefined,
    ),
    row(
      `${soakName}: this store's roles left on the target once settled`,
      { better: 'lower', at: 0, unit: '' },
      soak
        ? { value: soak.leftOnTarget, text: `${soak.leftOnTarget} (settled in ${soak.settleMs} ms)` }
        : undefined,
    ),
  );
  return rows;
}

const cellsOf = (f: FloorRow) => [
  f.floor,
  f.measured,
  f.reference ?? '(absolute)',
  f.value === null ? '—' : f.reference ? `${f.value}×` : String(f.value),
  f.limit,
  f.result,
];
const HEAD = ['floor', 'measured', 'calibration', 'ratio / value', 'floor', 'result'];

export function renderFloors(rows: readonly FloorRow[]): string {
  const t = new Table({
    head: HEAD,
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  t.push(...rows.map(cellsOf));
  return `Floors (issue 27), ratios to this run's calibration\n${t.toString()}`;
}

export function floorsMarkdown(rows: readonly FloorRow[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${HEAD.join(' | ')} |`,
    `| ${HEAD.map(() => '---').join(' | ')} |`,
    ...rows.map((f) => `| ${cellsOf(f).map(esc).join(' | ')} |`),
  ].join('\n');
}
