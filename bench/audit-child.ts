import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuditGrowthPoint } from './audit-growth.js';
import type { AuditFigures } from './audit-trail.js';

/**
 * The audit trail's figures run in their own process (its 1M-event store and its verifier children), printing
 * their table as they go; the figures come back through a file.
 */
export function measureAuditTrail(): AuditFigures {
  const dir = mkdtempSync(join(tmpdir(), 'stint-bench-audit-out-'));
  const out = join(dir, 'audit.json');
  try {
    execFileSync(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./audit-trail.ts', import.meta.url)), '--out', out],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const audit = (JSON.parse(readFileSync(out, 'utf8')) as { audit: AuditFigures }).audit;
    // The write-once checkpoint files' cost, in a process of its own; its last line is its figures.
    const printed = execFileSync(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./checkpoint-files.ts', import.meta.url))],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    process.stdout.write(printed);
    audit.writeOnceFiles = JSON.parse(printed.trim().split('\n').at(-1) ?? '{}');
    return audit;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The audit trail from 100,000 to 10,000,000 events (bench/audit-growth.ts), in a process of its own. */
export function measureAuditGrowth(): AuditGrowthPoint[] {
  const dir = mkdtempSync(join(tmpdir(), 'stint-bench-audit-growth-out-'));
  const out = join(dir, 'growth.json');
  try {
    execFileSync(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./audit-growth.ts', import.meta.url)), '--out', out],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    return (JSON.parse(readFileSync(out, 'utf8')) as { auditGrowth: AuditGrowthPoint[] }).auditGrowth;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
