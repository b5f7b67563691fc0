import type ssh2 from 'ssh2';
import type { AuditWriter } from '../../audit/audit-writer.js';
import type { Clock } from '../../domain/clock.js';
import type { Logger } from '../../logger.js';
import type { PolicySource } from '../../policy/policy-source.js';
import type { ProviderSet } from '../../providers/provider-set.js';
import type { StintDatabase } from '../../store/database.js';
import type { GrantStore } from '../../store/grant-store.js';
import type { RequestStore } from '../../store/request-store.js';
import type { RecordingDb } from '../recording-tables.js';
import type { SegmentLimits } from '../segments.js';
import type { SamplingConfig } from '../session-review/sampling.js';
import type { RecordingStorage } from '../storage/recording-storage.js';
import type { AuditBatch } from './audit-batch.js';
import type { HostLeg } from './host-leg.js';
import type { SessionWatch } from './live-sessions.js';
import type { SessionGrant } from './login-check.js';
import type { SshProxyTokens } from './proxy-token.js';

/** What the proxy is built from: the shared workflow parts, its storage and its settings. */
export interface ProxyDeps {
  store: StintDatabase;
  db: RecordingDb;
  requests: Pick<RequestStore, 'get'>;
  grants: Pick<GrantStore, 'get'>;
  policy: PolicySource;
  providers: Pick<ProviderSet, 'get'>;
  audit: AuditWriter;
  clock: Clock;
  logger: Logger;
  storeId: string;
  storage: RecordingStorage;
  limits: SegmentLimits;
  sampling: SamplingConfig;
  watch: SessionWatch;
  activity: AuditBatch;
  tokens: SshProxyTokens;
  /** `host/pid`: which proxy carried a session. */
  server: string;
}

/** A channel the session must close when it ends (a terminal, SFTP, a forwarded connection). */
export interface OpenChannel {
  close(reason: string): void;
  /** Resolves once its recording (if any) is sealed. */
  finished: Promise<void>;
}

/** One user connection through the proxy, once its login proved a live grant. */
export interface ProxiedSession {
  id: string;
  deps: ProxyDeps;
  grant: SessionGrant;
  client: ssh2.Connection;
  /** The host connection; rejects when the host could not be reached (the session then ends). */
  host: Promise<HostLeg>;
  readonly ended: boolean;
  channels: Set<OpenChannel>;
  nextChannel(): number;
  /** Ends the session: channels closed (terminals told why), both connections closed, recordings sealed. */
  end(reason: string): Promise<void>;
  /** What the session's audit events share. */
  event(action: string, details: Record<string, unknown>): void;
}
