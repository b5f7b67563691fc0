import type { Logger } from '../logger.js';
import type { Job, MetricSource, StintModule } from '../module.js';
import { createExporter } from './exporter.js';
import type { MetricsConfig } from './metrics-config.js';
import { metricsListener } from './metrics-listener.js';
import { METRICS_ROUTE_ACCESS, metricsRoutes } from './metrics-routes.js';

export interface MetricsModuleDeps {
  /**
   * Every module's metric families, read when the exporter starts (the module list is complete by then): the app
   * passes its module list, and the sweep loop's own figures beside it.
   */
  sources: () => readonly MetricSource[];
  logger: Logger;
  config?: MetricsConfig;
}

/**
 * The operations exporter: one prom-client registry of every module's families, served as `GET /metrics` on the
 * API (behind `metrics:read`) and, with STINT_METRICS_LISTEN, on an address of its own.
 */
export function createMetricsModule(deps: MetricsModuleDeps) {
  const exporter = createExporter({ sources: deps.sources, logger: deps.logger });
  const listen = deps.config?.listen ?? null;
  const listener = listen ? metricsListener(exporter, listen, deps.logger) : null;
  // A family named twice, or not a Prometheus name, stops the start rather than the first scrape.
  const check: Job = { start: async () => exporter.check(), stop: async () => {} };
  const module: StintModule = {
    name: 'metrics',
    jobs: listener ? [check, listener] : [check],
    routes: [{ plugin: metricsRoutes(exporter), access: METRICS_ROUTE_ACCESS }],
  };
  return {
    exporter,
    /** The separate listener's URL once started (null without STINT_METRICS_LISTEN). */
    listenAddress: () => listener?.address() ?? null,
    module,
  };
}

export type MetricsModule = ReturnType<typeof createMetricsModule>;
