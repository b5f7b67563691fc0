import { configError } from '../connection-ref.js';

/**
 * What a Redis resource needs, parsed once when the policy is loaded: a bad URL stops the boot (or refuses the
 * reload) instead of failing the first issuance.
 */
export interface RedisConfig {
  kind: 'redis';
  resourceId: string;
  host: string;
  port: number;
  tls: boolean;
  /** Stint's admin user (docs/redis-target.md): never `default`, which cannot be given least privilege apart. */
  username: string;
  /** Secret. */
  password: string;
  /** Host and port issued credentials connect to: the admin connection's unless a proxy or public name is given. */
  publicHost: string;
  publicPort: number;
  /** The admin URL and its password, verbatim and decoded: scrubbed from every message by the wrapper. */
  secrets: string[];
}

export interface RedisOptions {
  publicHost?: string | undefined;
  publicPort?: number | undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Checks a Redis resource's admin URL (`redis://stint_admin:<password>@host:6379`, or `rediss://` for TLS);
 * throws CONFIG_INVALID naming the resource and `where` the URL came from, never the URL.
 */
export function parseRedisConfig(
  resourceId: string,
  adminUrl: string,
  options: RedisOptions,
  where = 'admin connection',
): RedisConfig {
  const fail = (problem: string) => configError(resourceId, `${where} ${problem}`);
  if (!URL.canParse(adminUrl)) throw fail('is not a valid URL');
  const url = new URL(adminUrl);
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw fail('must be a redis:// or rediss:// URL');
  const username = safeDecode(url.username);
  const password = safeDecode(url.password);
  if (!username || username === 'default')
    throw fail(
      "must name Stint's own admin user (redis://stint_admin:<password>@host:port), not the default user",
    );
  if (!password) throw fail('has no password');
  if (url.pathname !== '' && url.pathname !== '/')
    throw fail('must not name a database: ACL users are server-wide');
  if (url.search !== '' || url.hash !== '') throw fail('must not carry query parameters or a fragment');
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  const port = url.port ? Number(url.port) : 6379;
  return {
    kind: 'redis',
    resourceId,
    host,
    port,
    tls: url.protocol === 'rediss:',
    username,
    password,
    publicHost: options.publicHost ?? host,
    publicPort: options.publicPort ?? port,
    secrets: [adminUrl, url.password, password].filter((s) => s.length > 0),
  };
}
