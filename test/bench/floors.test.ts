import { describe, expect, it } from 'vitest';
import type { Calibration } from '../../bench/calibration.js';
import type { CliStartFigures } from '../../bench/cli-start.js';
import { computeFloors } from '../../bench/floors.js';
import { END, readmeBlock, replaceBlock, START } from '../../bench/readme.js';
import type { Results } from '../../bench/report.js';
import type { Summary } from '../../bench/stats.js';
import type { Throughput } from '../../bench/throughput.js';

const s = (p50: number, p99 = p50): Summary => ({ n: 10, min: p50, p50, p90: p99, p99, max: p99, mean: p50 });

function results(over: Partial<Results> = {}): Results {
  return {
    generatedAt: '2026-12-07T00:00:00.000Z',
    machine: { cpus: 2, cpuModel: 'test', node: '26', loadAverage1mAtStart: 1 },
    durationSeconds: 1,
    credentialLatency: [],
    scramVerifierMs: null,
    revocationLag: [],
    restartLag: [],
    throughput: [],
    memory: null,
    audit: null,
    kinds: [],
    notify: [],
    breakglassAlert: [],
    ops: null,
    portal: null,
    checks: [],
    calibration: null,
    cliStart: null,
    floors: [],
    ...over,
  };
}

const calibration: Calibration = {
  leafHashesPerSecond: 300_000,
  leafBytes: 368,
  pgCreateRoleLogin: s(20),
  bareHandler: [
    { store: 'sqlite', cycles: 10, concurrency: 8, cyclesPerSecond: 800, cycle: s(10), cpuMsPerCycle: 1 },
    { store: 'postgresql', cycles: 10, concurrency: 8, cyclesPerSecond: 100, cycle: s(10), cpuMsPerCycle: 1 },
  ],
  loopback: { roundTripUs: s(80), roundTripsPerSecond: 10_000 },
};

const throughput = (store: 'sqlite' | 'postgresql', transport: 'inject' | 'http', rate: number) =>
  ({ store, transport, concurrency: 8, cyclesPerSecond: rate }) as Throughput;

/** The floors are what README and the run print as PASS/FAIL: their arithmetic and their refusals are held here. */
describe('bench floors', () => {
  it('a run without a figure reads NOT RUN for its floor, never PASS', () => {
    const rows = computeFloors(results());
    expect(rows.length).toBeGreaterThanOrEqual(11);
    expect(rows.every((r) => r.result === 'NOT RUN' && r.value === null)).toBe(true);
  });

  it('a ratio floor divides the figure by the same run’s calibration, on the right side of the limit', () => {
    const rows = computeFloors(
      results({
        calibration,
        // Inject figures are not the real-HTTP ones the floor is about.
        throughput: [
          throughput('sqlite', 'inject', 10_000),
          throughput('sqlite', 'http', 400),
          throughput('postgresql', 'http', 40),
        ],
      }),
    );
    const sqlite = rows.find(
      (r) => r.floor.includes('through real HTTP') && r.floor.includes('(sqlite store)'),
    );
    const pg = rows.find(
      (r) => r.floor.includes('through real HTTP') && r.floor.includes('(postgresql store)'),
    );
    expect(sqlite).toMatchObject({ value: 0.5, result: 'PASS', measured: '400 /s', reference: '800 /s' });
    expect(pg).toMatchObject({ value: 0.4, result: 'FAIL' });
  });

  it('the CLI floors: --version over node -e 0, request over the same POST from a bare script, at most 1.3×', () => {
    const cliStart = {
      versionRatio: 1.3,
      requestRatio: 1.9,
      requestOverBare: 1.31,
      version: s(39),
      request: s(57),
      requestBare: s(43.5),
      nodeBare: s(30),
    };
    const rows = computeFloors(results({ cliStart: cliStart as CliStartFigures }));
    expect(rows.find((r) => r.floor.includes('--version'))?.result).toBe('PASS');
    const request = rows.find((r) => r.floor.includes('stint request'));
    expect(request).toMatchObject({ value: 1.31, result: 'FAIL', reference: '43.5 ms' });
    expect(request?.measured).toContain('1.9× node -e 0');
    const within = computeFloors(
      results({ cliStart: { ...cliStart, requestOverBare: 1.3 } as CliStartFigures }),
    );
    expect(within.find((r) => r.floor.includes('stint request'))?.result).toBe('PASS');
  });

  it('the audit floor takes the leaf rate measured nearest the audit figures', () => {
    const audit = {
      appendsPerSecondBatched: 10_000,
      batchSize: 500,
      events: 1_000_000,
      inclusionProofMs: { p50: 0.2, p99: 0.9 },
    };
    const rows = computeFloors(
      results({
        calibration: { ...calibration, leafHashesPerSecondBeforeAudit: 250_000 },
        audit: audit as Results['audit'],
      }),
    );
    expect(rows.find((r) => r.floor.startsWith('durable audit'))).toMatchObject({
      value: 0.04,
      result: 'FAIL',
    });
    expect(rows.find((r) => r.floor.startsWith('audit inclusion'))).toMatchObject({
      value: 0.9,
      result: 'PASS',
    });
  });

  it('README’s block is replaced between its markers only, and a README without them is refused', () => {
    const readme = `# x\nbefore\n${START}\nold table\n${END}\nafter\n`;
    const out = replaceBlock(readme, readmeBlock(results({ calibration })));
    expect(out.startsWith(`# x\nbefore\n${START}\n`)).toBe(true);
    expect(out.endsWith(`${END}\nafter\n`)).toBe(true);
    expect(out).not.toContain('old table');
    expect(out).toContain('| NOT RUN |');
    expect(() => replaceBlock('# no markers\n', 'x')).toThrow(/no .* block/);
  });
});
