import { join, resolve } from 'node:path';
import { StintError } from '../domain/errors.js';
import { DEFAULT_SEGMENT_LIMITS, type SegmentLimits } from './segments.js';
import { DEFAULT_SAMPLING, type SamplingConfig } from './session-review/sampling.js';

/** The recording capability's settings (STINT_SSH_PROXY_*, STINT_RECORDINGS*, STINT_SESSION_REVIEW_*). */
export interface RecordingConfig {
  /**
   * `local` (a folder of this server; the default), `store` (in the store: every server plays every recording) or
   * `s3` (an S3-compatible bucket: likewise, without the store holding the bytes).
   */
  storage: 'local' | 'store' | 's3';
  /** The local folder (STINT_RECORDINGS_DIR, default `<data dir>/recordings`). */
  dir: string;
  /** The bucket, with STINT_RECORDINGS=s3 (null otherwise). */
  s3?: S3RecordingConfig | null;
  /** The SSH proxy, when STINT_SSH_PROXY_LISTEN is set. */
  sshProxy: {
    host: string;
    port: number;
    /** Its host key's file; made (Ed25519, 0600) on first start when absent. */
    hostKeyFile: string;
    /** How often live sessions' grants are read from the store (the bound on session-end lag at a revoke). */
    pollMs: number;
    /**
     * `host:port` users dial (STINT_SSH_PROXY_ADDRESS), told to them with every SSH take so `stint ssh` goes
     * through the proxy; absent: the listen address when it names one host, else none (users pass `--proxy`).
     */
    address?: string;
  } | null;
  segments: SegmentLimits;
  sampling: SamplingConfig;
  /** The PostgreSQL proxy, when STINT_PG_PROXY_LISTEN is set (absent or null: none). */
  pgProxy?: PgProxyConfig | null;
}

/** STINT_PG_PROXY_*: where the PostgreSQL proxy listens, its TLS pair, how often it reads grant states. */
export interface PgProxyConfig {
  host: string;
  port: number;
  /** PEM certificate and key; made (self-signed ECDSA P-256, key 0600) on first start when absent. */
  certFile: string;
  keyFile: string;
  pollMs: number;
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

function invalid(message: string): StintError {
  return new StintError('CONFIG_INVALID', `invalid configuration: ${message}`);
}

function number(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max)
    throw invalid(`${name} must be a number from ${min} to ${max}`);
  return n;
}

export function recordingConfigFromEnv(env: NodeJS.ProcessEnv, dataDir: string): RecordingConfig {
  const storage = env.STINT_RECORDINGS ?? 'local';
  if (storage !== 'local' && storage !== 'store' && storage !== 's3')
    throw invalid('STINT_RECORDINGS must be local, store or s3');
  let sshProxy: RecordingConfig['sshProxy'] = null;
  const listen = env.STINT_SSH_PROXY_LISTEN;
  if (listen) {
    const m = HOST_PORT.exec(listen);
    const port = Number(m?.[2]);
    if (!m?.[1] || !(port >= 0 && port <= 65_535)) {
      throw invalid('STINT_SSH_PROXY_LISTEN must be host:port (e.g. 0.0.0.0:2222)');
    }
    sshProxy = {
      host: m[1].replace(/^\[|\]$/g, ''),
      port,
      hostKeyFile: resolve(env.STINT_SSH_PROXY_HOST_KEY_FILE ?? join(dataDir, 'ssh-proxy-host-key')),
      pollMs: number(env, 'STINT_SSH_PROXY_POLL_MS', 250, 20, 10_000),
    };
    const address = env.STINT_SSH_PROXY_ADDRESS;
    if (address) {
      const a = HOST_PORT.exec(address);
      if (!a || Number(a[2]) < 1 || Number(a[2]) > 65_535)
        throw invalid('STINT_SSH_PROXY_ADDRESS must be host:port (e.g. proxy.example.com:2222)');
      sshProxy.address = address;
    }
  }
  // --- PostgreSQL proxy (STINT_PG_PROXY_*) ---
  let pgProxy: PgProxyConfig | null = null;
  const pgListen = env.STINT_PG_PROXY_LISTEN;
  if (pgListen) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(pgListen);
    const port = Number(m?.[2]);
    if (!m?.[1] || !(port >= 0 && port <= 65_535)) {
      throw invalid('STINT_PG_PROXY_LISTEN must be host:port (e.g. 0.0.0.0:6432)');
    }
    const certFile = env.STINT_PG_PROXY_TLS_CERT_FILE;
    const keyFile = env.STINT_PG_PROXY_TLS_KEY_FILE;
    if ((certFile === undefined) !== (keyFile === undefined)) {
      throw invalid(
        'STINT_PG_PROXY_TLS_CERT_FILE and STINT_PG_PROXY_TLS_KEY_FILE are set together or not at all',
      );
    }
    pgProxy = {
      host: m[1].replace(/^\[|\]$/g, ''),
      port,
      certFile: resolve(certFile ?? join(dataDir, 'pg-proxy-cert.pem')),
      keyFile: resolve(keyFile ?? join(dataDir, 'pg-proxy-key.pem')),
      pollMs: number(env, 'STINT_PG_PROXY_POLL_MS', 250, 20, 10_000),
    };
  }
  // --- end PostgreSQL proxy ---
  let incidentPattern = DEFAULT_SAMPLING.incidentPattern;
  const pattern = env.STINT_SESSION_REVIEW_INCIDENT_PATTERN;
  if (pattern !== undefined) {
    try {
      incidentPattern = pattern === '' ? null : new RegExp(pattern);
    } catch {
      throw invalid('STINT_SESSION_REVIEW_INCIDENT_PATTERN must be a regular expression');
    }
  }
  return {
    storage,
    dir: resolve(env.STINT_RECORDINGS_DIR ?? join(dataDir, 'recordings')),
    s3: storage === 's3' ? s3ConfigFromEnv(env) : null,
    sshProxy,
    pgProxy,
    segments: {
      ...DEFAULT_SEGMENT_LIMITS,
      maxBytes: number(
        env,
        'STINT_RECORDING_SEGMENT_BYTES',
        DEFAULT_SEGMENT_LIMITS.maxBytes,
        4096,
        64 * 1024 * 1024,
      ),
      maxAgeMs:
        number(env, 'STINT_RECORDING_SEGMENT_SECONDS', DEFAULT_SEGMENT_LIMITS.maxAgeMs / 1000, 1, 3600) *
        1000,
    },
    sampling: {
      rate: number(env, 'STINT_SESSION_REVIEW_RATE', DEFAULT_SAMPLING.rate, 0, 1),
      incidentPattern,
      dueDays: number(env, 'STINT_SESSION_REVIEW_DUE_DAYS', DEFAULT_SAMPLING.dueDays, 1, 365),
    },
  };
}

/** STINT_RECORDINGS=s3: where in which bucket. Credentials are not here: the AWS SDK's default chain finds them. */
export interface S3RecordingConfig {
  bucket: string;
  /** Prepended to every key (`stint/`); the store's id follows it, so deployments sharing a bucket never mix. */
  prefix: string;
  /** An S3-compatible service's URL (MinIO, Ceph, R2…); absent: AWS S3 itself. */
  endpoint: string | null;
  region: string;
  /** `https://host/bucket/key` rather than `https://bucket.host/key` (most S3-compatible services want it). */
  forcePathStyle: boolean;
}

function s3ConfigFromEnv(env: NodeJS.ProcessEnv): S3RecordingConfig {
  const bucket = env.STINT_RECORDINGS_S3_BUCKET ?? '';
  // S3's own bucket naming rules (3–63 lower-case letters, digits, dots, hyphens).
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    throw invalid('STINT_RECORDINGS_S3_BUCKET must name a bucket (3-63 of a-z 0-9 . -)');
  let prefix = env.STINT_RECORDINGS_S3_PREFIX ?? 'stint/';
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  if (!/^[A-Za-z0-9!_.*'()/-]{0,200}$/.test(prefix) || prefix.startsWith('/'))
    throw invalid(
      "STINT_RECORDINGS_S3_PREFIX must be a key prefix of letters, digits and !_.*'()/- (not starting with /)",
    );
  const endpoint = env.STINT_RECORDINGS_S3_ENDPOINT || null;
  if (endpoint !== null) {
    let url: URL | null = null;
    try {
      url = new URL(endpoint);
    } catch {}
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:'))
      throw invalid('STINT_RECORDINGS_S3_ENDPOINT must be an http(s) URL');
  }
  const region = env.STINT_RECORDINGS_S3_REGION || env.AWS_REGION || 'us-east-1';
  if (!/^[a-z0-9-]{2,32}$/.test(region)) throw invalid('STINT_RECORDINGS_S3_REGION must be a region name');
  const pathStyle = env.STINT_RECORDINGS_S3_FORCE_PATH_STYLE ?? '';
  if (!['', 'true', 'false'].includes(pathStyle))
    throw invalid('STINT_RECORDINGS_S3_FORCE_PATH_STYLE must be true or false');
  return { bucket, prefix, endpoint, region, forcePathStyle: pathStyle === 'true' };
}
