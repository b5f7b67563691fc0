import { hostname } from 'node:os';
import type { AuditWriter } from '../../audit/audit-writer.js';
import type { SecretBox } from '../../crypto/secret-box.js';
import type { Clock } from '../../domain/clock.js';
import type { Logger } from '../../logger.js';
import type { PolicySource } from '../../policy/policy-source.js';
import type { StintDatabase } from '../../store/database.js';
import type { RequestStore } from '../../store/request-store.js';
import type { PgProxyConfig } from '../recording-config.js';
import type { RecordingDb } from '../recording-tables.js';
import type { SegmentLimits } from '../segments.js';
import type { SamplingConfig } from '../session-review/sampling.js';
import { createAuditBatch } from '../ssh-proxy/audit-batch.js';
import { createSessionWatch } from '../ssh-proxy/live-sessions.js';
import type { RecordingStorage } from '../storage/recording-storage.js';
import { findPgGrant } from './pg-login.js';
import { createPgProxy, type PgProxy } from './pg-proxy.js';
import { loadProxyTls, type ProxyTls } from './proxy-tls.js';

export interface PgProxyStartDeps {
  store: StintDatabase;
  db: RecordingDb;
  requests: Pick<RequestStore, 'get'>;
  policy: PolicySource;
  secrets: SecretBox;
  audit: AuditWriter;
  clock: Clock;
  logger: Logger;
  storage: RecordingStorage;
  limits: SegmentLimits;
  sampling: SamplingConfig;
}

/**
 * The PostgreSQL proxy as the recording module runs it: its TLS pair (made on first start), its own watch of live
 * sessions' grants (the SSH proxy's poll, on its own interval) and audit batch, listening.
 */
export async function startPgProxy(
  deps: PgProxyStartDeps,
  config: PgProxyConfig,
): Promise<{ proxy: PgProxy; tls: ProxyTls }> {
  const names = [
    'localhost',
    '127.0.0.1',
    hostname(),
    ...(config.host.includes('0.0.0.0') ? [] : [config.host]),
  ];
  const tls = await loadProxyTls(config.certFile, config.keyFile, [...new Set(names)].filter(Boolean));
  const watch = createSessionWatch({ ...deps, pollMs: config.pollMs });
  const proxy = createPgProxy(
    {
      ...deps,
      watch,
      activity: createAuditBatch(deps),
      server: `${hostname()}/${process.pid}`,
      tls,
      // From the encryption key, so every server of the deployment (and a restarted one) offers the same salt
      // for a name: comparing them tells nothing about which names have a grant.
      mockKey: deps.secrets.deriveKey('pg-proxy-mock-scram/v1'),
      findGrant: (user) => findPgGrant(deps, user),
    },
    { host: config.host, port: config.port },
  );
  await proxy.start();
  return { proxy, tls };
}
