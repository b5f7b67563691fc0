/**
 * `npm run bench:readme [-- <results file>]`: writes README's floor table (issue 27) from bench/results.json, or
 * the file given, between the markers in README's Benchmark section. The floors are computed again from the
 * figures (bench/floors.ts), so a file from before a floor existed reads NOT RUN for it rather than a stale PASS.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderCalibrationLine } from './calibration.js';
import { computeFloors, floorsMarkdown } from './floors.js';
import type { Results } from './report.js';

export const START = '<!-- bench:floors:start (written by npm run bench:readme) -->';
export const END = '<!-- bench:floors:end -->';

export function readmeBlock(r: Results): string {
  const m = r.machine;
  const load = m.loadAverageAtStart
    ? `load average (1, 5, 15 min) ${m.loadAverageAtStart} at start, ${m.loadAverageAtEnd} at end`
    : `load average ${m.loadAverage1mAtStart} at start, ${m.loadAverage1mAtEnd ?? '?'} at end`;
  const lines = [
    `From \`${r.generatedAt}\`: ${m.cpus}× ${m.cpuModel}, Node ${m.node}, ${load}.` +
      (r.figuresRun ? ` Figures run: ${r.figuresRun.join(', ')}.` : ''),
    r.calibration
      ? `Calibration of the same run: ${renderCalibrationLine(r.calibration)}.`
      : 'No calibration in this run.',
    '',
    floorsMarkdown(computeFloors(r)),
  ];
  const grants = r.growth?.grants;
  if (grants?.length) {
    lines.push(
      '',
      "Growth with active grants (the memory figure's server at each size, SQLite store, in-memory provider):",
      '',
      '| active grants | peak RSS | live heap after GC | activations/s while filling |',
      '| --- | --- | --- | --- |',
      ...grants.map(
        (p) =>
          `| ${p.grants.toLocaleString('en-US')} | ${p.peakRssMb} MB | ${p.retainedHeapMb} MB | ${p.activationsPerSecond} |`,
      ),
    );
  }
  const audit = r.growth?.audit;
  if (audit?.length) {
    lines.push(
      '',
      'Growth of the audit trail (one SQLite store filled step by step; each row measured at that size):',
      '',
      '| events | appends/s (500 per transaction) | fold into the tree, µs/event | inclusion proof p50 / p99 | bytes/event |',
      '| --- | --- | --- | --- | --- |',
      ...audit.map(
        (p) =>
          `| ${p.events.toLocaleString('en-US')} | ${p.appendsPerSecond.toLocaleString('en-US')} | ${p.foldMicrosecondsPerEvent} | ${p.inclusionProofMs.p50} / ${p.inclusionProofMs.p99} ms | ${p.bytesPerEvent} |`,
      ),
    );
  }
  return lines.join('\n');
}

export function replaceBlock(readme: string, block: string): string {
  const i = readme.indexOf(START);
  const j = readme.indexOf(END);
  if (i < 0 || j < i) throw new Error(`README.md has no ${START} … ${END} block`);
  return `${readme.slice(0, i + START.length)}\n${block}\n${readme.slice(j)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2] ?? fileURLToPath(new URL('./results.json', import.meta.url));
  const readmeFile = fileURLToPath(new URL('../README.md', import.meta.url));
  const results = JSON.parse(readFileSync(file, 'utf8')) as Results;
  writeFileSync(readmeFile, replaceBlock(readFileSync(readmeFile, 'utf8'), readmeBlock(results)));
  process.stdout.write(`README.md: floors written from ${file}\n`);
}
