/**
 * Operations figures (issue 26), for bench/run.ts to print:
 *
 *   (a) the time of a `GET /metrics` scrape with 10,000 active grants (aim: under 50 ms), through the HTTP layer
 *       with a `metrics:read` token, on the real app with the in-memory provider double;
 *   (b) the evidence export rate: `stint evidence export` of a quarter (the CLI in this process, over real HTTP
 *       to the app), events per second, and the rate of `stint evidence verify` on the pack it wrote.
 *
 * `npx tsx bench/ops.ts` prints both.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditInput } from '../src/audit/audit-store.js';
import { runCli } from '../src/cli/program.js';
import type { StoreKind } from '../test/support/stores.js';
import { buildBenchApp, expectStatus, untilActive } from './app.js';
import { createMemoryProvider } from './memory-provider.js';
import { benchPolicy, REQUESTER, RESOURCE } from './policy.js';
import { round, runBounded, summarize } from './stats.js';

export const AUDITOR = 'erin';

/** The bench policy with an auditor, who may scrape /metrics and export evidence. */
export function opsPolicy(): string {
  return benchPolicy().replace(
    'users:\n',
    `users:\n  - { id: ${AUDITOR}, email: erin@example.com, name: Erin, teams: [audit], auditor: true }\n`,
  );
}

export interface ScrapeFigures {
  store: StoreKind;
  activeGrants: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The exposition's size and how many families it holds. */
  bytes: number;
  families: number;
  /** How long making the grants took (not part of the figure). */
  setupSeconds: number;
}

export interface EvidenceFigures {
  store: StoreKind;
  events: number;
  exportSeconds: number;
  exportEventsPerSecond: number;
  verifySeconds: number;
  verifyEventsPerSecond: number;
  packBytes: number;
}

/** (a) `GET /metrics` with `grants` auto-approved grants active (8 h windows), `samples` scrapes one at a time. */
export async function measureMetricsScrape(
  grants = 10_000,
  samples = 30,
  kind: StoreKind = 'sqlite',
): Promise<ScrapeFigures> {
  const provider = createMemoryProvider();
  const bench = await buildBenchApp(kind, () => () => provider, { policy: opsPolicy() });
  try {
    const started = performance.now();
    await runBounded(grants, 8, async (i) => {
      const created = await bench.post(REQUESTER, '/v1/requests', {
        resource: RESOURCE,
        role: 'read',
        reason: `bench metrics ${i}`,
        duration: '4h',
      });
      expectStatus(created, 201, 'create');
      await untilActive(bench, REQUESTER, created);
    });
    const setupSeconds = (performance.now() - started) / 1000;
    const token = (
      await bench.stint.identity.tokens.create(
        AUDITOR,
        'prometheus',
        new Date(),
        new Date(Date.now() + 86_400_000),
        ['metrics:read'],
      )
    ).token;
    const scrape = () =>
      bench.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } });
    const first = await scrape();
    if (first.statusCode !== 200) throw new Error(`GET /metrics answered ${first.statusCode}: ${first.body}`);
    const active = /^stint_grants_active\{resource="bench-db"\} (\d+)$/m.exec(first.body)?.[1];
    if (Number(active) !== grants)
      throw new Error(`the scrape counts ${active} active grants, not ${grants}`);
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      const res = await scrape();
      times.push(performance.now() - t);
      if (res.statusCode !== 200) throw new Error(`GET /metrics answered ${res.statusCode}`);
    }
    const s = summarize(times);
    return {
      store: kind,
      activeGrants: grants,
      samples,
      p50Ms: s.p50,
      p99Ms: s.p99,
      maxMs: s.max,
      bytes: first.body.length,
      families: (first.body.match(/^# TYPE /gm) ?? []).length,
      setupSeconds: round(setupSeconds),
    };
  } finally {
    await bench.close();
  }
}

/**
 * (b) `events` audit events stamped across 2026-Q3 (request, review and grant events, written through the audit
 * writer in batches), then `stint evidence export --period 2026-Q3` and `stint evidence verify` timed.
 */
export async function measureEvidenceExport(
  events = 100_000,
  kind: StoreKind = 'sqlite',
): Promise<EvidenceFigures> {
  const provider = createMemoryProvider();
  const bench = await buildBenchApp(kind, () => () => provider, { policy: opsPolicy() });
  const dir = mkdtempSync(join(tmpdir(), 'stint-bench-evidence-'));
  try {
    const since = Date.parse('2026-07-01T00:00:00Z');
    const step = Math.floor((92 * 86_400_000) / (events + 2));
    const db = bench.stint.deps.store.db;
    const actions = ['request.created', 'request.approved', 'grant.activated', 'grant.expired'];
    const batch = 1000;
    for (let from = 0; from < events + 2; from += batch) {
      const list: AuditInput[] = [];
      for (let i = from; i < Math.min(events + 2, from + batch); i++) {
        // One event before the period and one after frame it, as a real log would.
        const at =
          i === 0 ? since - 60_000 : i === events + 1 ? since + 92 * 86_400_000 + 60_000 : since + i * step;
        const request = `req_${(Math.floor(i / 4) + 1).toString(16).padStart(16, '0')}`;
        const action = actions[i % 4] as string;
        list.push({
          at: new Date(at),
          actor: action === 'request.created' ? REQUESTER : 'stint',
          action,
          requestId: request,
          target: { resource: RESOURCE, role: 'read' },
          details:
            action === 'request.created'
              ? {
                  resource: RESOURCE,
                  role: 'read',
                  reason: `bench ${i}`,
                  durationSeconds: 3600,
                  tiers: ['auto'],
                  ruleId: 'bench-read',
                  policyVersion: bench.stint.deps.policy.current().version,
                }
              : action === 'request.approved'
                ? { tier: 'auto' }
                : {},
        });
      }
      await bench.stint.audit.writer.append(db, list);
    }
    await bench.stint.audit.log.build({ checkpoint: true });
    const url = await bench.app.listen({ port: 0, host: '127.0.0.1' });
    const token = (await bench.stint.identity.tokens.create(AUDITOR, 'bench', new Date())).token;
    const vkey = bench.options.audit.signers[0]?.vkey as string;
    const file = join(dir, 'q3.tar.gz');
    const io = {
      stdout: { write: () => true },
      stderr: { write: (s: string) => process.stderr.write(s) },
      env: {},
    };
    let t = performance.now();
    const exported = await runCli(
      [
        '--url',
        url,
        '--token',
        token,
        'evidence',
        'export',
        '--period',
        '2026-Q3',
        '--key',
        vkey,
        '--out',
        file,
      ],
      io,
    );
    const exportSeconds = (performance.now() - t) / 1000;
    if (exported !== 0) throw new Error(`stint evidence export exited ${exported}`);
    t = performance.now();
    const verified = await runCli(['evidence', 'verify', file, '--key', vkey], io);
    const verifySeconds = (performance.now() - t) / 1000;
    if (verified !== 0) throw new Error(`stint evidence verify exited ${verified}`);
    return {
      store: kind,
      events,
      exportSeconds: round(exportSeconds, 2),
      exportEventsPerSecond: Math.round(events / exportSeconds),
      verifySeconds: round(verifySeconds, 2),
      verifyEventsPerSecond: Math.round(events / verifySeconds),
      packBytes: statSync(file).size,
    };
  } finally {
    await bench.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const scrape = await measureMetricsScrape();
  process.stdout.write(`${JSON.stringify({ scrape }, null, 2)}\n`);
  const evidence = await measureEvidenceExport();
  process.stdout.write(`${JSON.stringify({ evidence }, null, 2)}\n`);
  process.exit(0);
}
