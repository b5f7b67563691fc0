import { hostname } from 'node:os';
import type { AuditWriter } from '../audit/audit-writer.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Clock } from '../domain/clock.js';
import type { AccessRequest } from '../domain/request.js';
import type { Logger } from '../logger.js';
import type { StintModule } from '../module.js';
import type { PolicySource } from '../policy/policy-source.js';
import type { ProviderSet } from '../providers/provider-set.js';
import type { StintDatabase } from '../store/database.js';
import type { GrantRow, GrantStore } from '../store/grant-store.js';
import type { RequestStore } from '../store/request-store.js';
import type { PgProxy } from './pg-proxy/pg-proxy.js';
import { startPgProxy } from './pg-proxy/start-pg-proxy.js';
import type { RecordingConfig } from './recording-config.js';
import { recordingStore } from './recording-store.js';
import { type RecordingDb, recordingDb } from './recording-tables.js';
import { DEFAULT_SEGMENT_LIMITS, finaliseOrphans } from './segments.js';
import { createReviewClaims } from './session-review/review-claims.js';
import { createReviewReminders } from './session-review/review-reminders.js';
import { SESSION_REVIEW_ROUTE_ACCESS, sessionReviewRoutes } from './session-review/review-routes.js';
import { createSessionReviewService } from './session-review/review-service.js';
import { DEFAULT_SAMPLING } from './session-review/sampling.js';
import { createAuditBatch } from './ssh-proxy/audit-batch.js';
import { createSessionWatch } from './ssh-proxy/live-sessions.js';
import { createSshProxyTokens } from './ssh-proxy/proxy-token.js';
import type { SshProxy } from './ssh-proxy/ssh-proxy.js';
import { lazyS3Storage } from './storage/lazy-s3-storage.js';
import { createLocalStorage } from './storage/local-storage.js';
import type { RecordingStorage, SegmentRef } from './storage/recording-storage.js';
import { createStoreStorage } from './storage/store-storage.js';

export interface RecordingDeps {
  store: StintDatabase;
  requests: RequestStore;
  grants: GrantStore;
  policy: PolicySource;
  providers: ProviderSet;
  /**
   * Opens the credential kept for the PostgreSQL proxy (grants.kept_enc), and derives the SSH proxy token's key
   * from the encryption key (proxy-token.ts).
   */
  secrets: SecretBox;
  audit: AuditWriter;
  clock: Clock;
  logger: Logger;
  storeId: string;
  /** Without one: recordings in the store, no proxy (nothing touches the file system). */
  config?: RecordingConfig;
}

/** Settings when none are given: no proxy, recordings (none are made) in the store. */
export const NO_PROXY: RecordingConfig = {
  storage: 'store',
  dir: '',
  sshProxy: null,
  segments: DEFAULT_SEGMENT_LIMITS,
  sampling: DEFAULT_SAMPLING,
};

/**
 * Session recording: the SSH proxy (when STINT_SSH_PROXY_LISTEN is set), the PostgreSQL proxy (when
 * STINT_PG_PROXY_LISTEN is set), the storage their recordings go to, the finalising of recordings a crash left open,
 * and the session review queue's routes (docs/recording.md).
 */
export function createRecordingModule(deps: RecordingDeps) {
  const config = deps.config ?? NO_PROXY;
  const db = recordingDb(deps.store.db);
  const storage = storageOf(config, db, deps);
  const segmentDeps = { db, storage, audit: deps.audit, clock: deps.clock, logger: deps.logger };
  const reviews = createSessionReviewService({ ...deps, db, storage });
  const claims = createReviewClaims({ ...deps, db });
  const reminders = createReviewReminders({ db, audit: deps.audit, clock: deps.clock });
  let proxy: SshProxy | null = null;
  let pgProxy: PgProxy | null = null;
  let pgCertificate: string | null = null;
  let hostKeyLine: string | null = null;
  let recovered = 0;
  const tokens = createSshProxyTokens(deps.secrets);

  /** Open segments whose writer is gone: at start, every open one of a local folder this process now holds. */
  async function orphans(): Promise<SegmentRef[]> {
    const found = await storage.orphans();
    if (config.storage === 'local') {
      for (const row of await recordingStore.openSegmentsAt(db, storage.location)) {
        if (!found.some((f) => f.recordingId === row.recording_id && f.segment === row.idx)) {
          found.push({ recordingId: row.recording_id, segment: row.idx });
        }
      }
    }
    return found;
  }

  const recover = async () => {
    const refs = await orphans();
    if (refs.length === 0) return 0;
    const n = await finaliseOrphans(segmentDeps, refs);
    recovered += n;
    deps.logger.warn({ segments: n }, 'recordings left open by a stopped proxy were finalised');
    return n;
  };

  /** The listen address when it names one host users can dial (not 0.0.0.0 or ::). */
  function listenAddress(): string | null {
    const at = proxy?.address();
    if (!at || at.host === '0.0.0.0' || at.host === '::') return null;
    return at.host.includes(':') ? `[${at.host}]:${at.port}` : `${at.host}:${at.port}`;
  }

  const module: StintModule = {
    name: 'recording',
    jobs: [
      {
        async start() {
          // A local folder is this server's own and only a proxy writes to it: without one, it is left alone
          // (two servers without proxies may share a data directory).
          if (config.storage === 'local' && !config.sshProxy && !config.pgProxy) return;
          await storage.start();
          await recover();
          if (config.pgProxy) {
            const started = await startPgProxy(
              { ...deps, db, storage, limits: config.segments, sampling: config.sampling },
              config.pgProxy,
            );
            pgProxy = started.proxy;
            pgCertificate = started.tls.fingerprint;
            deps.logger.info(
              { address: pgProxy.address(), certificate: started.tls.certFile, sha256: pgCertificate },
              'postgresql proxy listening',
            );
          }
          if (!config.sshProxy) return;
          // The proxy and ssh2 under it load only when a proxy is configured: ssh2 is ~3 MB of heap.
          const [{ loadProxyHostKey }, { createSshProxy }] = await Promise.all([
            import('./ssh-proxy/proxy-host-key.js'),
            import('./ssh-proxy/ssh-proxy.js'),
          ]);
          const key = await loadProxyHostKey(config.sshProxy.hostKeyFile);
          hostKeyLine = key.publicLine;
          const watch = createSessionWatch({ ...deps, db, pollMs: config.sshProxy.pollMs });
          proxy = createSshProxy(
            {
              ...deps,
              db,
              storage,
              limits: config.segments,
              sampling: config.sampling,
              watch,
              activity: createAuditBatch(deps),
              tokens,
              server: `${hostname()}/${process.pid}`,
            },
            { host: config.sshProxy.host, port: config.sshProxy.port, hostKey: key.privateKey },
          );
          await proxy.start();
          deps.logger.info(
            { address: proxy.address(), hostKey: hostKeyLine, storage: storage.location },
            'ssh proxy listening',
          );
        },
        async stop() {
          await pgProxy?.stop();
          pgProxy = null;
          await proxy?.stop();
          proxy = null;
          await storage.stop();
        },
      },
    ],
    // Recordings in the store or a bucket outlive the server that made them: any server finalises those whose
    // proxy died.
    sweeps: [
      ...(config.storage !== 'local'
        ? [{ name: 'recording.orphans', everyMs: 30_000, run: () => recover() }]
        : []),
      // Due-soon and overdue reminders of queued session reviews, each once, whichever server writes it.
      { name: 'recording.review_reminders', everyMs: 60_000, run: (signal) => reminders.sweep(signal) },
    ],
    routes: [{ plugin: sessionReviewRoutes(reviews, claims), access: SESSION_REVIEW_ROUTE_ACCESS }],
    ready: [
      ...(config.sshProxy
        ? [
            () => {
              if (!proxy) throw new Error('the SSH proxy is not listening');
            },
          ]
        : []),
      ...(config.pgProxy
        ? [
            () => {
              if (!pgProxy) throw new Error('the PostgreSQL proxy is not listening');
            },
          ]
        : []),
    ],
    metrics: [
      {
        name: 'stint_recording_sessions_live',
        help: 'Sessions through this server’s SSH proxy now',
        type: 'gauge',
        collect: () => [{ value: proxy?.sessions().length ?? 0 }],
      },
      {
        name: 'stint_recording_pg_sessions_live',
        help: 'Sessions through this server’s PostgreSQL proxy now',
        type: 'gauge',
        collect: () => [{ value: pgProxy?.sessions().length ?? 0 }],
      },
      {
        name: 'stint_recording_segments_recovered_total',
        help: 'Recording segments finalised after their proxy stopped',
        type: 'counter',
        collect: () => [{ value: recovered }],
      },
    ],
  };

  return {
    module,
    reviews,
    claims,
    reminders,
    storage,
    /** The running proxy (null until started, or when none is configured). */
    proxy: () => proxy,
    /** The running PostgreSQL proxy (null until started, or when none is configured). */
    pgProxy: () => pgProxy,
    /** SHA-256 fingerprint of the PostgreSQL proxy's certificate: what users pin. */
    pgCertificate: () => pgCertificate,
    /** `ssh-ed25519 AAAA…`: what users pin for the proxy. */
    hostKeyLine: () => hostKeyLine,
    /**
     * What an SSH take answers besides the certificate (the take's `takeExtras`): the proxy token, on every
     * server (the take may reach one without the proxy); the proxy's address and host key where this one runs it.
     */
    takeExtras(request: AccessRequest, grant: GrantRow): Record<string, string> {
      if (deps.policy.current().resources.get(request.resource)?.kind !== 'ssh') return {};
      if (grant.credential_shown_at === null) return {};
      const proxyToken = tokens.issue({
        storeId: deps.storeId,
        requestId: request.id,
        requester: request.requester,
        principal: grant.principal,
        shownAt: Number(grant.credential_shown_at),
      });
      const address = config.sshProxy?.address ?? listenAddress();
      return {
        proxyToken,
        ...(address ? { proxyAddress: address } : {}),
        ...(hostKeyLine ? { proxyHostKey: hostKeyLine } : {}),
      };
    },
    /** Finalises what crashed writers left open now (tests; the sweep does it every 30 s for the store). */
    recover,
  };
}

function storageOf(config: RecordingConfig, db: RecordingDb, deps: RecordingDeps): RecordingStorage {
  if (config.storage === 'local') return createLocalStorage(config.dir);
  if (config.storage === 'store') return createStoreStorage(db, deps.clock);
  if (!config.s3) throw new Error('STINT_RECORDINGS=s3 needs its bucket settings');
  return lazyS3Storage({ db, clock: deps.clock, storeId: deps.storeId, config: config.s3 });
}

export type RecordingModule = ReturnType<typeof createRecordingModule>;
