import Table from 'cli-table3';
import type { Check, Results } from './results-types.js';

export type { Check, Results } from './results-types.js';

import type { RssReport } from './rss-child.js';
import type { Summary } from './stats.js';

export function check(
  figure: string,
  value: number,
  unit: string,
  better: 'lower' | 'higher',
  floor: number | null,
  aim: number | null,
): Check {
  const meets = (limit: number | null) =>
    limit === null ? '—' : (better === 'lower' ? value <= limit : value >= limit) ? 'PASS' : 'MISS';
  return { figure, value, unit, better, floor, aim, floorResult: meets(floor), aimResult: meets(aim) };
}

function table(title: string, head: string[], rows: (string | number)[][]): string {
  const t = new Table({
    head,
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  t.push(...rows.map((r) => r.map(String)));
  return `${title}\n${t.toString()}`;
}

const SUMMARY_HEAD = ['n', 'p50', 'p90', 'p99', 'max'];
const cells = (s: Summary) => [s.n, s.p50, s.p90, s.p99, s.max];

export function renderResults(r: Results): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(
    [
      `Stint benchmark, ${r.generatedAt}`,
      `machine: ${m.cpus}× ${m.cpuModel}, Node ${m.node}, load average ${m.loadAverage1mAtStart} at start, ` +
        `${m.loadAverage1mAtEnd ?? '?'} at end`,
      `target: PostgreSQL ${m.targetPostgres}, scram-sha-256 cluster started for the run; ` +
        `stores: SQLite file, or PostgreSQL ${m.storePostgres} on this machine`,
    ].join('\n'),
  );
  if (r.credentialLatency.length > 0) {
    const rows: (string | number)[][] = [];
    for (const c of r.credentialLatency) {
      rows.push([c.store, 'approve → usable credential (total)', ...cells(c.total)]);
      rows.push([c.store, '  approve → active (server, inject)', ...cells(c.approveToActive)]);
      rows.push([c.store, '    of which provider.issue()', ...cells(c.providerIssue)]);
      rows.push([c.store, '    of which the rest of Stint', ...cells(c.approveOther)]);
      rows.push([c.store, '  credential reveal (POST …/credentials)', ...cells(c.credentialFetch)]);
      rows.push([c.store, '  pg connect (SCRAM) + SELECT 1', ...cells(c.connectAndSelect)]);
      rows.push([c.store, 'explicit revoke, for comparison', ...cells(c.revoke)]);
    }
    for (const c of r.credentialLatency) {
      if (c.sweeperWonIssuance > 0) {
        rows.push([
          c.store,
          `approvals answered "approved" (sweeper issued)`,
          c.sweeperWonIssuance,
          '',
          '',
          '',
          '',
        ]);
      }
    }
    if (r.scramVerifierMs) rows.push(['—', 'one SCRAM verifier (PBKDF2 ×4096)', ...cells(r.scramVerifierMs)]);
    out.push(
      table(
        '1. Approve → usable PostgreSQL credential, real provider (ms)',
        ['store', 'step', ...SUMMARY_HEAD],
        rows,
      ),
    );
  }
  if (r.revocationLag.length > 0) {
    const rows: (string | number)[][] = [];
    for (const l of r.revocationLag) {
      if (!l.pollLogins) {
        rows.push([`${l.store}, control`, 'session terminated, no login polling', ...cells(l.sessionLag)]);
        rows.push([
          `${l.store}, control`,
          '  expiry → provider.revoke() called',
          ...cells(l.untilRevokeCalled),
        ]);
        continue;
      }
      rows.push([l.store, 'revocation lag = max(session, login)', ...cells(l.lag)]);
      rows.push([l.store, '  open SET ROLE session terminated', ...cells(l.sessionLag)]);
      rows.push([l.store, '    expiry → provider.revoke() called', ...cells(l.untilRevokeCalled)]);
      rows.push([l.store, '    revoke() called → session end seen', ...cells(l.revokeToSessionEnd)]);
      rows.push([l.store, '  new login first refused (answer)', ...cells(l.loginLag)]);
      rows.push([l.store, "    the refused attempt's own handshake", ...cells(l.refusedAttemptMs)]);
      rows.push([l.store, '  login attempts until refused', ...cells(l.attemptsPerSample)]);
    }
    out.push(
      table(
        `2. Revocation lag after expiry, nobody calling revoke, ${r.revocationLag[0]?.lanes ?? '?'} grants at a time (ms)`,
        ['store', 'measure', ...SUMMARY_HEAD],
        rows,
      ),
    );
    out.push(
      r.revocationLag
        .filter((l) => l.pollLogins)
        .map(
          (l) =>
            `   ${l.store}: sessions ended before expiry ${l.endedEarly}, logins accepted after expiry ` +
            `${l.acceptedAfterExpiry}, sessions never ended ${l.neverEnded}`,
        )
        .concat(
          '   New logins are refused by PostgreSQL itself at VALID UNTIL; one login is tried at the expiry instant',
          "   (then every 2 ms), so the login figure is mostly that refused attempt's own handshake. The control",
          '   run shows what those attempts, made at the same instant as the revoke, cost the session figure.',
        )
        .join('\n'),
    );
  }
  const restart = r.restartLag;
  if (restart.length > 0) {
    const rows: (string | number)[][] = [];
    for (const l of restart) {
      rows.push([l.store, 'revocation lag = session end − restart', ...cells(l.lag)]);
      rows.push([l.store, '  restart → provider.revoke() called', ...cells(l.untilRevokeCalled)]);
    }
    out.push(
      table(
        `2b. Revocation lag after a restart, ${restart[0]?.overdue ?? '?'} grants overdue at once, each with an open SET ROLE session (ms)`,
        ['store', 'measure', ...SUMMARY_HEAD],
        rows,
      ),
    );
    out.push(
      restart
        .map(
          (l) =>
            `   ${l.store}: start() (reconcile, first sweep) took ${l.startMs} ms; sessions never ended ` +
            `${l.neverEnded}, requests not expired ${l.notExpired}`,
        )
        .concat(
          '   The server stops with every grant live, their windows end, and a new server starts on the same store:',
          '   overdue grants are expired in parallel, at most 8 at once per target.',
        )
        .join('\n'),
    );
  }
  if (r.throughput.length > 0) {
    out.push(
      table(
        '3. Request + approve cycles per second (in-memory provider double: no target I/O)',
        [
          'store',
          'via',
          'cycles',
          'in flight',
          'cycles/s',
          'CPU ms/cycle',
          'cycle p50 ms',
          'cycle p99 ms',
          'create p50',
          'approve p50',
          'sweeper issued',
        ],
        r.throughput.map((t) => [
          t.store,
          t.transport === 'http' ? 'real HTTP' : 'app.inject',
          t.cycles,
          t.concurrency,
          t.cyclesPerSecond,
          t.cpuMsPerCycle,
          t.cycle.p50,
          t.cycle.p99,
          t.create.p50,
          t.approve.p50,
          t.sweeperWonIssuance,
        ]),
      ),
    );
  }
  if (r.memory) {
    const mem = r.memory;
    const runs = [...mem.shipped, ...mem.flagged];
    const row = (label: string, f: (m: RssReport) => string | number) => [label, ...runs.map(f)];
    out.push(
      table(
        `4. Server memory with ${mem.grants.toLocaleString('en')} active grants (child process, compiled JS, SQLite, in-memory provider)`,
        [
          'measure',
          ...mem.shipped.map((_, i) => `no flags, run ${i + 1}`),
          ...mem.flagged.map((m) =>
            m.nodeFlags.length > 0 ? m.nodeFlags.join(' ') : `STINT_HEAP=${m.heapProfile}`,
          ),
        ],
        [
          row('peak RSS (VmHWM)', (m) => `${m.vmHwmMb} MB`),
          row('peak RSS (sampled every 10 ms)', (m) => `${m.sampledPeakMb} MB`),
          row('RSS before any grant', (m) => `${m.baselineMb} MB`),
          row('RSS at the end', (m) => `${m.finalRssMb} MB`),
          row('live heap after GC, at the end', (m) => `${m.retainedHeapMb} MB`),
          row('active grants in the store', (m) => m.activeInStore),
          row('armed expiry timers', (m) => m.armedTimers),
          row('time to create them', (m) => `${m.seconds} s`),
          row('heap flags the server set', (m) => (m.heapFlags ?? []).join(' ') || 'none'),
        ],
      ),
    );
    out.push(
      `   live heap: ${mem.idleRetainedHeapMb} MB with no grant, ~${mem.retainedBytesPerGrant} B more per active ` +
        `grant (timer, provider entry, maps); the rest of the peak is V8 heap headroom, not data.`,
    );
  }
  if (r.kinds?.length) {
    out.push(
      table(
        "6. target kinds: Stint against the target's own primitive, timed together (ms)",
        ['kind', 'issue p50', 'issue p99', 'primitive', 'primitive p50', 'ratio', 'revoke lag p50', 'p99'],
        r.kinds.map((k) => [
          k.kind,
          k.issueP50Ms,
          k.issueP99Ms,
          k.primitive,
          k.primitiveP50Ms,
          `${(k.issueP50Ms / k.primitiveP50Ms).toFixed(2)}×`,
          k.revokeLagP50Ms,
          k.revokeLagP99Ms,
        ]),
      ),
    );
    for (const k of r.kinds) for (const n of k.notes) out.push(`  ${k.kind}: ${n}`);
  }
  if (r.notify?.length) {
    out.push(
      table(
        '7. notifications: alert committed → local webhook received (ms)',
        ['store', ...SUMMARY_HEAD],
        r.notify.map((n) => [n.store, ...cells(n.alertLatency)]),
      ),
      table(
        '7. break-glass invoked → the security alert received by a local webhook (ms)',
        ['store', ...SUMMARY_HEAD],
        (r.breakglassAlert ?? []).map((b) => [b.store, ...cells(b.invokeToAlert)]),
      ),
      table(
        '7. notifications: throughput, fast receivers beside one slow one',
        [
          'store',
          'events',
          'fast channels',
          'fast deliveries/s',
          'slow received',
          'slow in flight',
          'slow delay ms',
        ],
        r.notify.map((n) => [
          n.store,
          n.throughput.events,
          n.throughput.fastChannels,
          n.throughput.fastDeliveriesPerSecond,
          n.throughput.slowReceived,
          n.throughput.slowInFlight,
          n.throughput.slowDelayMs,
        ]),
      ),
    );
  }
  if (r.ops) {
    const { scrape, evidence } = r.ops;
    out.push(
      table(
        '8. operations',
        ['figure', 'value'],
        [
          [
            `/metrics scrape, ${scrape.activeGrants} active grants (${scrape.store}), p50 / p99 ms`,
            `${scrape.p50Ms} / ${scrape.p99Ms}`,
          ],
          ['/metrics size, families', `${scrape.bytes} B, ${scrape.families}`],
          [
            `evidence export, ${evidence.events} events (${evidence.store}), events/s`,
            evidence.exportEventsPerSecond,
          ],
          ['evidence verify offline, events/s', evidence.verifyEventsPerSecond],
          ['evidence pack size', `${evidence.packBytes} B`],
        ],
      ),
    );
  }
  if (r.portal) {
    const p = r.portal;
    out.push(
      table(
        "9. the portal's first load (Debian chromium, loopback, cold cache)",
        ['figure', 'value'],
        [
          ['bytes over the wire', p.firstLoadBytes],
          [
            'bundle raw / gzip / brotli',
            `${p.bundle.rawBytes} / ${p.bundle.gzipBytes} / ${p.bundle.brotliBytes}`,
          ],
          ['DOMContentLoaded p50 ms', p.domContentLoadedP50Ms],
          ['interactive p50 / p90 ms', `${p.interactiveP50Ms} / ${p.interactiveP90Ms}`],
        ],
      ),
    );
  }
  if (r.audit) {
    const a = r.audit;
    const n = (x: number) => x.toLocaleString('en-US');
    out.push(
      table(
        `5. Audit trail on the SQLite store, ${n(a.events)} events (bench/audit-trail.ts, own process)`,
        ['measure', 'value'],
        [
          ['durable appends, 1 event per transaction', `${n(a.appendsPerSecondSingle)} /s`],
          [`durable appends, ${a.batchSize} events per transaction`, `${n(a.appendsPerSecondBatched)} /s`],
          [`fold ${n(a.events)} events into the stored tree`, `${a.treeBuildSeconds} s`],
          ['inclusion proof p50 / p99', `${a.inclusionProofMs.p50} / ${a.inclusionProofMs.p99} ms`],
          ['bytes stored per event (body, indexes, tree nodes)', `${a.bytesPerEvent} B`],
          ...a.verify.flatMap((v) => [
            [
              `offline verification of ${n(v.events)} events, ${v.workers} threads (best of ${v.parallelEventsPerSecond.length})`,
              `${n(v.bestParallelEventsPerSecond)} /s`,
            ],
            [`  one thread`, `${n(v.singleThreadEventsPerSecond)} /s`],
            [`  verifier peak RSS`, `${v.peakRssMb} MiB`],
          ]),
        ],
      ),
    );
  }
  if (r.checks.length > 0) {
    out.push(
      table(
        'Targets',
        ['figure', 'value', 'floor', 'result', 'aim', 'result'],
        r.checks.map((c) => {
          const op = c.better === 'lower' ? '≤' : '≥';
          const lim = (x: number | null) => (x === null ? '—' : `${op} ${x} ${c.unit}`);
          return [c.figure, `${c.value} ${c.unit}`, lim(c.floor), c.floorResult, lim(c.aim), c.aimResult];
        }),
      ),
    );
  }
  out.push(`Total run time ${r.durationSeconds} s.`);
  return out.join('\n\n');
}
