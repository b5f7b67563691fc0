import { z } from 'zod';
import { configError } from '../connection-ref.js';
import { DEFAULT_TARGET_CONCURRENCY } from '../target-queue.js';

/**
 * What a PostgreSQL resource needs, parsed once when the policy is loaded: a bad URL stops the boot (or refuses
 * the reload) instead of failing the first issuance.
 */
export interface PostgresConfig {
  kind: 'postgres';
  resourceId: string;
  /** `postgres://stint_admin:…@host:port/db`: the least-privileged admin role of docs/postgres-target.md. Secret. */
  adminUrl: string;
  host: string;
  port: number;
  database: string;
  sslmode: string | null;
  /** Host and port users connect to: the admin connection's unless a proxy or public name is given. */
  publicHost: string;
  publicPort: number;
  /** Caps the concurrent sessions of each issued login; unlimited when absent. */
  connectionLimit: number | undefined;
  /** Stint's admin pool to this target: its calls at once (the wrapper's queue admits as many). */
  concurrency: number;
  /** Secrets of the admin URL, to redact from any message. */
  secrets: string[];
  /** Where users reach the recording proxy, when sessions go only through it (the kind's `proxy` option). */
  proxy: { host: string; port: number } | null;
}

export interface PostgresConfigInput {
  adminUrl: string;
  publicHost?: string;
  publicPort?: number;
  connectionLimit?: number;
  adminConnections?: number;
  /** Checked by the kind's schema; here only where users reach the proxy matters. */
  proxy?: { host: string; port: number };
}

const NOT_A_URL = 'is not a valid URL';
const NOT_POSTGRES = 'must be a postgres:// URL';

// Messages are fixed strings: zod's defaults could quote the input, and the input holds the admin password.
const inputSchema = z.object({
  adminUrl: z
    .string()
    .refine((s) => URL.canParse(s), { error: NOT_A_URL, abort: true })
    .refine((s) => /^postgres(ql)?:$/.test(new URL(s).protocol), { error: NOT_POSTGRES }),
  publicHost: z.string().min(1, { error: 'public host must not be empty' }).optional(),
  publicPort: z.int({ error: 'public port must be a whole number' }).min(1).max(65_535).optional(),
  connectionLimit: z.int({ error: 'connection limit must be a whole number' }).min(-1).optional(),
  adminConnections: z.int({ error: 'admin connections must be a whole number' }).min(1).max(64).optional(),
  proxy: z.looseObject({ host: z.string().min(1), port: z.int().min(1).max(65_535) }).optional(),
});

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Checks a PostgreSQL resource's settings; throws CONFIG_INVALID naming the resource and `where` the URL came
 * from (`env STINT_DB_URL`), never the URL.
 */
export function parsePostgresConfig(
  resourceId: string,
  input: PostgresConfigInput,
  where = 'admin connection',
): PostgresConfig {
  const parsed = inputSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) =>
      i.path[0] === 'adminUrl' ? `${where} ${i.message}` : i.message,
    );
    throw configError(resourceId, problems.join('; '));
  }
  const { adminUrl } = parsed.data;
  const url = new URL(adminUrl);
  const user = safeDecode(url.username);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  const port = url.port ? Number(url.port) : 5432;
  return {
    kind: 'postgres',
    resourceId,
    adminUrl,
    host,
    port,
    // libpq's default database is the user's name.
    database: safeDecode(url.pathname.replace(/^\//, '')) || user,
    sslmode: url.searchParams.get('sslmode'),
    publicHost: parsed.data.publicHost ?? host,
    publicPort: parsed.data.publicPort ?? port,
    connectionLimit: parsed.data.connectionLimit,
    concurrency: parsed.data.adminConnections ?? DEFAULT_TARGET_CONCURRENCY,
    secrets: [adminUrl, url.password, safeDecode(url.password)].filter((s) => s.length > 0),
    proxy: parsed.data.proxy ? { host: parsed.data.proxy.host, port: parsed.data.proxy.port } : null,
  };
}
