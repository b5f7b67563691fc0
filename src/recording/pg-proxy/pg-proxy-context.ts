import type { AuditWriter } from '../../audit/audit-writer.js';
import type { Clock } from '../../domain/clock.js';
import type { Logger } from '../../logger.js';
import type { StintDatabase } from '../../store/database.js';
import type { RecordingDb } from '../recording-tables.js';
import type { SegmentLimits } from '../segments.js';
import type { SamplingConfig } from '../session-review/sampling.js';
import type { AuditBatch } from '../ssh-proxy/audit-batch.js';
import type { SessionWatch } from '../ssh-proxy/live-sessions.js';
import type { RecordingStorage } from '../storage/recording-storage.js';
import type { PgGrant } from './pg-login.js';
import type { ProxyTls } from './proxy-tls.js';

/** What the PostgreSQL proxy is built from: the shared workflow parts, its storage and its settings. */
export interface PgProxyDeps {
  store: StintDatabase;
  db: RecordingDb;
  audit: AuditWriter;
  clock: Clock;
  logger: Logger;
  storage: RecordingStorage;
  limits: SegmentLimits;
  sampling: SamplingConfig;
  watch: SessionWatch;
  activity: AuditBatch;
  /** `host/pid`: which proxy carried a session. */
  server: string;
  tls: ProxyTls;
  /** Keys the mock SCRAM exchange of users with no grant (a salt stable per name, unknowable outside). */
  mockKey: Buffer;
  /** The live grant behind a client's user name (pg-login.ts), or PgLoginRefused. */
  findGrant(user: string): Promise<PgGrant>;
}
