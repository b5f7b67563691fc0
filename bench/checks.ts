import { type Check, check, type Results } from './report.js';
import { round } from './stats.js';

/**
 * The figures held against the targets the issues set in absolute terms (floor and aim, PASS/MISS). Issue 27's
 * floors, as ratios to the same run's calibration, are bench/floors.ts.
 */
export function collectChecks(
  results: Results,
  plan: { concurrency: number; memoryRepeats: number },
): Check[] {
  const checks: Check[] = [];
  for (const c of results.credentialLatency) {
    checks.push(check(`credential p50 (${c.store})`, c.total.p50, 'ms', 'lower', 100, null));
  }
  for (const l of results.revocationLag.filter((x) => x.pollLogins)) {
    checks.push(check(`revocation lag p99 (${l.store})`, l.lag.p99, 'ms', 'lower', 1000, 100));
  }
  for (const l of results.restartLag) {
    checks.push(
      check(
        `revocation lag after a restart, ${l.overdue} overdue, p99 (${l.store})`,
        l.lag.p99,
        'ms',
        'lower',
        null,
        1000,
      ),
    );
  }
  // The figure the earlier issues set targets for (app.inject); the real-HTTP one is held to issue 27's floor.
  for (const t of results.throughput.filter(
    (x) => x.concurrency === plan.concurrency && x.transport === 'inject',
  )) {
    const sqlite = t.store === 'sqlite';
    checks.push(
      check(
        `cycles/s (${t.store})`,
        t.cyclesPerSecond,
        '/s',
        'higher',
        sqlite ? 500 : null,
        sqlite ? 1000 : null,
      ),
    );
  }
  if (results.memory) {
    const worst = results.memory.worstPeakMb;
    checks.push(
      check(
        `peak RSS, 10k grants, in-memory provider (worst of ${plan.memoryRepeats})`,
        worst,
        'MB',
        'lower',
        null,
        200,
      ),
    );
  }
  if (results.ops) {
    checks.push(
      check('/metrics scrape p99, 10k active grants', results.ops.scrape.p99Ms, 'ms', 'lower', null, 50),
    );
  }
  if (results.portal) {
    const p = results.portal;
    checks.push(
      check(
        'portal first load, bytes over the wire',
        Math.round(p.firstLoadBytes / 1024),
        'KB',
        'lower',
        null,
        250,
      ),
      check('portal interactive p50', p.interactiveP50Ms, 'ms', 'lower', null, 1000),
    );
  }
  for (const b of results.breakglassAlert) {
    // Issue 24's aim: break-glass invoke to the alert received by a local webhook, p99 within a second.
    checks.push(
      check(`break-glass invoke → alert p99 (${b.store})`, b.invokeToAlert.p99, 'ms', 'lower', null, 1000),
    );
  }
  for (const n of results.notify) {
    // Issue 24's aim: break-glass invoke (an alerting event) to the alert received, p99 within a second.
    checks.push(check(`alert → webhook p99 (${n.store})`, n.alertLatency.p99, 'ms', 'lower', null, 1000));
  }
  for (const k of results.kinds) {
    // Issue 22/27's floor: approve → usable credential within 2× the target's own create + first login.
    checks.push(
      check(
        `${k.kind}: issue ÷ its own primitive (p50)`,
        round(k.issueP50Ms / k.primitiveP50Ms, 2),
        '×',
        'lower',
        2,
        null,
      ),
    );
  }
  if (results.audit) {
    const a = results.audit;
    checks.push(
      check(
        `audit appends/s, ${a.batchSize} per transaction`,
        a.appendsPerSecondBatched,
        '/s',
        'higher',
        null,
        20_000,
      ),
      check('audit inclusion proof p99', a.inclusionProofMs.p99, 'ms', 'lower', 1, null),
    );
    if (a.leafMacCost) {
      checks.push(
        check(
          `audit leaf MAC cost, ${a.batchSize} per transaction`,
          a.leafMacCost.batched.overheadPercent,
          '%',
          'lower',
          10,
          null,
        ),
        check(
          'audit leaf MAC cost, 1 per transaction',
          a.leafMacCost.single.overheadPercent,
          '%',
          'lower',
          10,
          null,
        ),
      );
    }
    if (a.writeOnceFiles) {
      checks.push(
        check('audit write-once checkpoint files cost', a.writeOnceFiles.costPercent, '%', 'lower', 10, null),
      );
    }
    const [usual] = a.verify;
    if (usual) {
      checks.push(
        check('audit offline verification', usual.bestParallelEventsPerSecond, '/s', 'higher', 300_000, null),
      );
    }
  }
  return checks;
}
