import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { StintError } from '../domain/errors.js';
import { HEAP_PROFILES } from '../server/heap-profile.js';
import { DEFAULT_STORE_TIMEOUTS } from '../store/pg-pool.js';
import { checkConfiguredKeyFiles } from './key-location.js';

/**
 * Server configuration: flags over environment over defaults, parsed once at start-up. No secret has a default;
 * a missing or malformed value stops the server with a message naming it.
 */
const schema = z
  .object({
    dataDir: z.string().min(1),
    policyPath: z.string().min(1, 'a policy file is required: --policy or STINT_POLICY'),
    databaseUrl: z.string().regex(/^(sqlite:|postgres(ql)?:\/\/)/, 'must start with sqlite: or postgres://'),
    host: z.string().min(1),
    port: z.coerce.number().int().min(0).max(65535),
    encryptionKey: z.string().min(1, 'STINT_ENCRYPTION_KEY or STINT_ENCRYPTION_KEY_FILE is required'),
    auditSigningKeys: z
      .string()
      .min(
        1,
        'STINT_AUDIT_SIGNING_KEY or STINT_AUDIT_SIGNING_KEY_FILE is required (make one: stint audit key --generate)',
      ),
    auditCheckpointDir: z.string().min(1),
    auditAcceptRollbackRisk: z.enum(['true', 'false'], { message: 'must be true or false' }),
    auditRetentionDays: z.coerce
      .number()
      .int()
      .min(365, 'audit retention must be at least 365 days (PCI DSS 10.5.1)'),
    sweepIntervalMs: z.coerce.number().int().min(50).max(60_000),
    storeConnectTimeoutMs: z.coerce.number().int().min(100).max(60_000),
    storeStatementTimeoutMs: z.coerce.number().int().min(100).max(600_000),
    drainTimeoutMs: z.coerce.number().int().min(0).max(600_000),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    // Applied by the CLI before the app loads (src/server/heap-profile.ts); checked here with the rest.
    heap: z.enum(HEAP_PROFILES, { message: `must be ${HEAP_PROFILES.join(' or ')}` }),
  })
  .strict();

export type ServerConfig = z.infer<typeof schema>;

export interface ServerFlags {
  policyPath?: string;
  databaseUrl?: string;
  host?: string;
  port?: number;
  dataDir?: string;
  /** Where `--demo` keeps the keys it makes (STINT_KEY_DIR; default beside the data directory). */
  keyDir?: string;
}

/** Where each setting is read from, so a refusal names what the operator has to change. */
const SOURCES: Record<string, string> = {
  dataDir: 'STINT_DATA_DIR (or --data-dir)',
  policyPath: 'STINT_POLICY (or --policy)',
  databaseUrl: 'STINT_DATABASE_URL (or --db)',
  host: 'STINT_HOST (or --host)',
  port: 'STINT_PORT (or --port)',
  encryptionKey: 'STINT_ENCRYPTION_KEY or STINT_ENCRYPTION_KEY_FILE',
  auditSigningKeys: 'STINT_AUDIT_SIGNING_KEY or STINT_AUDIT_SIGNING_KEY_FILE',
  auditCheckpointDir: 'STINT_AUDIT_CHECKPOINT_DIR',
  auditAcceptRollbackRisk: 'STINT_AUDIT_ACCEPT_ROLLBACK_RISK',
  auditRetentionDays: 'STINT_AUDIT_RETENTION_DAYS',
  sweepIntervalMs: 'STINT_SWEEP_INTERVAL_MS',
  drainTimeoutMs: 'STINT_DRAIN_TIMEOUT_MS',
  logLevel: 'STINT_LOG_LEVEL',
  heap: 'STINT_HEAP',
};

function configInvalid(problems: string): StintError {
  return new StintError('CONFIG_INVALID', `invalid configuration: ${problems}`);
}

/** A secret's file, named (never its content) when it cannot be read. */
function readSecretFile(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw configInvalid(`${variable}: ${path} cannot be read (${code})`);
  }
}

export function readKey(env: NodeJS.ProcessEnv): string {
  if (env.STINT_ENCRYPTION_KEY) return env.STINT_ENCRYPTION_KEY;
  if (env.STINT_ENCRYPTION_KEY_FILE)
    return readSecretFile('STINT_ENCRYPTION_KEY_FILE', env.STINT_ENCRYPTION_KEY_FILE);
  return '';
}

/** Signing keys: one skey per line; two during a rotation (both sign every checkpoint). */
export function readAuditKeys(env: NodeJS.ProcessEnv): string {
  if (env.STINT_AUDIT_SIGNING_KEY) return env.STINT_AUDIT_SIGNING_KEY;
  if (env.STINT_AUDIT_SIGNING_KEY_FILE)
    return readSecretFile('STINT_AUDIT_SIGNING_KEY_FILE', env.STINT_AUDIT_SIGNING_KEY_FILE);
  return '';
}

export function resolveConfig(flags: ServerFlags, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const dataDir = resolve(flags.dataDir ?? env.STINT_DATA_DIR ?? 'data');
  checkConfiguredKeyFiles(env, dataDir);
  const parsed = schema.safeParse({
    dataDir,
    policyPath: flags.policyPath ?? env.STINT_POLICY ?? '',
    databaseUrl: flags.databaseUrl ?? env.STINT_DATABASE_URL ?? `sqlite:${join(dataDir, 'stint.db')}`,
    host: flags.host ?? env.STINT_HOST ?? '127.0.0.1',
    port: flags.port ?? env.STINT_PORT ?? 7070,
    encryptionKey: readKey(env),
    auditSigningKeys: readAuditKeys(env),
    auditCheckpointDir: resolve(env.STINT_AUDIT_CHECKPOINT_DIR ?? join(dataDir, 'checkpoints')),
    auditAcceptRollbackRisk: env.STINT_AUDIT_ACCEPT_ROLLBACK_RISK ?? 'false',
    auditRetentionDays: env.STINT_AUDIT_RETENTION_DAYS ?? 730,
    sweepIntervalMs: env.STINT_SWEEP_INTERVAL_MS ?? 500,
    storeConnectTimeoutMs: env.STINT_STORE_CONNECT_TIMEOUT_MS ?? DEFAULT_STORE_TIMEOUTS.connectMs,
    storeStatementTimeoutMs: env.STINT_STORE_STATEMENT_TIMEOUT_MS ?? DEFAULT_STORE_TIMEOUTS.statementMs,
    // Below a typical orchestrator's grace period (Kubernetes: 30 s), so the drain ends before a SIGKILL.
    drainTimeoutMs: env.STINT_DRAIN_TIMEOUT_MS ?? 10_000,
    logLevel: env.STINT_LOG_LEVEL ?? 'info',
    heap: env.STINT_HEAP?.trim() || 'lean',
  });
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `${SOURCES[i.path.join('.')] ?? i.path.join('.')}: ${i.message}`)
      .join('; ');
    throw configInvalid(problems);
  }
  return parsed.data;
}
