import type { AuditGrowthPoint } from './audit-growth.js';
import type { AuditFigures } from './audit-trail.js';
import type { BreakglassAlertFigures } from './breakglass-alert.js';
import type { Calibration } from './calibration.js';
import type { CliStartFigures } from './cli-start.js';
import type { CredentialLatency } from './credential-latency.js';
import type { ExpiryBurst } from './expiry-burst.js';
import type { GrantGrowthPoint } from './grant-growth.js';
import type { KindFigures } from './kinds/figures.js';
import type { NotifyFigures } from './notify.js';
import type { EvidenceFigures, ScrapeFigures } from './ops.js';
import type { PortalFigures } from './portal.js';
import type { PgProxyFigures } from './recording-pg.js';
import type { SshProxyFigures } from './recording-ssh.js';
import type { RestartLag } from './restart-lag.js';
import type { RevocationLag } from './revocation-lag.js';
import type { MemoryResult } from './rss.js';
import type { Soak } from './soak.js';
import type { Summary } from './stats.js';
import type { Takeover } from './takeover.js';
import type { Throughput } from './throughput.js';

/** The shape of bench/results.json: every figure of a run, its checks and its floors. */
export interface Results {
  generatedAt: string;
  machine: Record<string, string | number>;
  durationSeconds: number;
  credentialLatency: CredentialLatency[];
  scramVerifierMs: Summary | null;
  revocationLag: RevocationLag[];
  restartLag: RestartLag[];
  throughput: Throughput[];
  memory: MemoryResult | null;
  audit: AuditFigures | null;
  /** Per target kind with a real server here (MariaDB, Redis, sshd). */
  kinds: KindFigures[];
  /** Notifications: alert latency to a local webhook, and throughput with one slow receiver. */
  notify: NotifyFigures[];
  /** Break-glass invoked → the security alert received by a local webhook. */
  breakglassAlert: BreakglassAlertFigures[];
  /** Operations: the /metrics scrape and the evidence pack's export and verify rates. */
  ops: { scrape: ScrapeFigures; evidence: EvidenceFigures } | null;
  /** The portal's first load in a real browser. */
  portal: PortalFigures | null;
  checks: Check[];
  /** Issue 27: the same run's reference figures, and the floors held as ratios to them (bench/floors.ts). */
  calibration: Calibration | null;
  /** The figures this run took (`--only`); absent in files from before issue 27. */
  figuresRun?: string[];
  cliStart: CliStartFigures | null;
  /** 500 grants expiring in one instant on one target (bench/expiry-burst.ts), per store. */
  expiryBurst?: ExpiryBurst[];
  /** kill -9 of the server issuing: the survivor's resumption (bench/takeover.ts, PostgreSQL store). */
  takeover?: Takeover | null;
  /** The recording proxies against direct connections in the same run (bench/recording-*.ts). */
  recording?: { ssh: SshProxyFigures | null; pg?: PgProxyFigures | null };
  /** Real cycles against the real PostgreSQL provider for minutes: RSS growth, p99 drift, what is left behind. */
  soak?: Soak | null;
  /** How figures move with size: active grants from 1k to 100k, the audit trail from 100k to 10M events. */
  growth?: { grants?: GrantGrowthPoint[] | null; audit: AuditGrowthPoint[] | null };
  floors: FloorRow[];
}

export interface Check {
  figure: string;
  value: number;
  unit: string;
  /** Whether bigger is better (throughput) or smaller (latency, memory). */
  better: 'lower' | 'higher';
  floor: number | null;
  aim: number | null;
  floorResult: 'PASS' | 'MISS' | '—';
  aimResult: 'PASS' | 'MISS' | '—';
}

export interface FloorRow {
  floor: string;
  /** The figure measured, as text with its unit. */
  measured: string;
  /** What it is held against: a calibration figure of the same run, or null for an absolute floor. */
  reference: string | null;
  /** measured ÷ reference for a ratio floor; the measured value itself for an absolute one. */
  value: number | null;
  /** `≤ 2×`, `≥ 0.5×`, `≤ 1000 ms`… */
  limit: string;
  result: 'PASS' | 'FAIL' | 'NOT RUN';
}
