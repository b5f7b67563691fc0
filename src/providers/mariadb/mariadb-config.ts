import { z } from 'zod';
import { configError } from '../connection-ref.js';

/**
 * What a MariaDB resource needs, parsed once when the policy is loaded: a bad URL stops the boot (or refuses the
 * reload) instead of failing the first issuance.
 */
export interface MariaDbConfig {
  kind: 'mariadb';
  resourceId: string;
  /** `mysql://stint_admin:…@host:3306/app`: the least-privileged admin account of docs/mariadb-target.md. Secret. */
  adminUrl: string;
  host: string;
  port: number;
  user: string;
  password: string;
  /** The database named in the issued credential's URL (the admin connection uses none); null when absent. */
  database: string | null;
  /** Host and port users connect to: the admin connection's unless a proxy or public name is given. */
  publicHost: string;
  publicPort: number;
  /** The host part of every issued account (`'stint_…'@'<userHost>'`). */
  userHost: string;
  /** `MAX_USER_CONNECTIONS` of each issued account; the server's default when absent. */
  connectionLimit: number | undefined;
  /** Whether issue schedules the target-side EVENT that drops the account at the window's end. */
  expiryEvent: boolean;
  /** Secrets of the admin URL, for the wrapper to scrub from every message. */
  secrets: string[];
}

export interface MariaDbConfigInput {
  adminUrl: string;
  publicHost?: string;
  publicPort?: number;
  userHost?: string;
  connectionLimit?: number;
  expiryEvent?: boolean;
}

const NOT_A_URL = 'is not a valid URL';
const NOT_MYSQL = 'must be a mysql:// or mariadb:// URL';
const NO_USER = 'must name the admin user';

/** An account's host part as MariaDB spells it: a name, an address, a netmask or a `%`/`_` pattern. */
export const USER_HOST = /^[A-Za-z0-9.%_:/-]{1,255}$/;

// Messages are fixed strings: zod's defaults could quote the input, and the input holds the admin password.
const inputSchema = z.object({
  adminUrl: z
    .string()
    .refine((s) => URL.canParse(s), { error: NOT_A_URL, abort: true })
    .refine((s) => /^(mysql|mariadb):$/.test(new URL(s).protocol), { error: NOT_MYSQL, abort: true })
    .refine((s) => new URL(s).username.length > 0, { error: NO_USER }),
  publicHost: z.string().min(1, { error: 'public host must not be empty' }).optional(),
  publicPort: z.int({ error: 'public port must be a whole number' }).min(1).max(65_535).optional(),
  userHost: z.string().regex(USER_HOST, { error: 'user host is not an account host' }).optional(),
  connectionLimit: z.int({ error: 'connection limit must be a whole number' }).min(1).optional(),
  expiryEvent: z.boolean({ error: 'expiryEvent must be true or false' }).optional(),
});

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Checks a MariaDB resource's settings; throws CONFIG_INVALID naming the resource and `where` the URL came from
 * (`env STINT_DB_URL`), never the URL.
 */
export function parseMariaDbConfig(
  resourceId: string,
  input: MariaDbConfigInput,
  where = 'admin connection',
): MariaDbConfig {
  const parsed = inputSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) =>
      i.path[0] === 'adminUrl' ? `${where} ${i.message}` : i.message,
    );
    throw configError(resourceId, problems.join('; '));
  }
  const { adminUrl } = parsed.data;
  const url = new URL(adminUrl);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  const port = url.port ? Number(url.port) : 3306;
  const password = safeDecode(url.password);
  return {
    kind: 'mariadb',
    resourceId,
    adminUrl,
    host,
    port,
    user: safeDecode(url.username),
    password,
    database: safeDecode(url.pathname.replace(/^\//, '')) || null,
    publicHost: parsed.data.publicHost ?? host,
    publicPort: parsed.data.publicPort ?? port,
    userHost: parsed.data.userHost ?? '%',
    connectionLimit: parsed.data.connectionLimit,
    expiryEvent: parsed.data.expiryEvent ?? true,
    secrets: [adminUrl, url.password, password].filter((s) => s.length > 0),
  };
}
