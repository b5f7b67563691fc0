import { StintError } from '../domain/errors.js';

/** Where the exporter also listens, with no credential: an address only the scraper's network reaches. */
export interface MetricsConfig {
  listen: { host: string; port: number } | null;
}

const invalid = (message: string) =>
  new StintError('CONFIG_INVALID', `STINT_METRICS_LISTEN ${message}`, { variable: 'STINT_METRICS_LISTEN' });

/**
 * `STINT_METRICS_LISTEN=host:port` (`[::1]:9464` for IPv6): `/metrics` is also served there, unauthenticated, for
 * a Prometheus that cannot hold a token; bind it to an address only the monitoring network reaches. Unset: only
 * the API port serves it, behind `metrics:read`.
 */
export function metricsConfigFromEnv(env: Readonly<Record<string, string | undefined>>): MetricsConfig {
  const text = env.STINT_METRICS_LISTEN?.trim();
  if (!text) return { listen: null };
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text);
  if (!m) throw invalid('must be host:port (e.g. 127.0.0.1:9464 or [::1]:9464)');
  const port = Number(m[3]);
  if (port > 65_535) throw invalid('has a port above 65535');
  return { listen: { host: (m[1] ?? m[2]) as string, port } };
}
