import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { createExporter, PROMETHEUS_CONTENT_TYPE } from '../../src/metrics/exporter.js';
import { metricsConfigFromEnv } from '../../src/metrics/metrics-config.js';
import { createMetricsModule } from '../../src/metrics/metrics-module.js';
import { createObservedHistogram } from '../../src/metrics/observed-histogram.js';
import type { MetricSource } from '../../src/module.js';
import { parseExposition, sampleValue } from './prom-text.js';

const gauge = (
  name: string,
  value: number | (() => never),
  labels?: Record<string, string>,
): MetricSource => ({
  name,
  help: `help of ${name}`,
  type: 'gauge',
  collect: () => (typeof value === 'number' ? [{ value, ...(labels ? { labels } : {}) }] : value()),
});

describe('the exporter', () => {
  it('renders counters, gauges and histograms that a strict parser accepts, label values escaped', async () => {
    const h = createObservedHistogram([0.1, 1]);
    for (const v of [0.05, 0.5, 0.5, 3]) h.observe(v);
    const exporter = createExporter({
      logger: silentLogger,
      sources: () => [
        gauge('stint_test_gauge', 2.5, { resource: 'a "quoted"\\ name\nwith a line' }),
        {
          name: 'stint_test_total',
          help: 'a counter\nwith a line',
          type: 'counter',
          collect: () => [{ value: 7 }],
        },
        {
          name: 'stint_test_seconds',
          help: 'h',
          type: 'histogram',
          buckets: [0.1, 1],
          collect: () => [h.sample({ sweep: 'x' })],
        },
      ],
    });
    const text = await exporter.scrape();
    const families = parseExposition(text);
    expect(sampleValue(families, 'stint_test_gauge', { resource: 'a "quoted"\\ name\nwith a line' })).toBe(
      2.5,
    );
    expect(families.get('stint_test_total')?.help).toBe('a counter\nwith a line');
    const bucket = (le: string) =>
      sampleValue(families, 'stint_test_seconds_bucket', { sweep: 'x', le }, 'stint_test_seconds');
    expect([bucket('0.1'), bucket('1'), bucket('+Inf')]).toEqual([1, 3, 4]);
    expect(sampleValue(families, 'stint_test_seconds_sum', { sweep: 'x' }, 'stint_test_seconds')).toBe(4.05);
    expect(sampleValue(families, 'stint_metrics_scrapes_total')).toBe(1);
  });

  it('leaves out a family whose collection fails or hangs, counts it, and still answers the rest', async () => {
    const exporter = createExporter({
      logger: silentLogger,
      timeoutMs: 100,
      sources: () => [
        gauge('stint_ok', 1),
        gauge('stint_broken', () => {
          throw new Error('store unavailable');
        }),
        { name: 'stint_hangs', help: 'h', type: 'gauge', collect: () => new Promise(() => {}) },
      ],
    });
    const families = parseExposition(await exporter.scrape());
    expect(sampleValue(families, 'stint_ok')).toBe(1);
    expect(families.get('stint_broken')?.samples).toEqual([]);
    expect(families.get('stint_hangs')?.samples).toEqual([]);
    expect(sampleValue(families, 'stint_metrics_collect_failures_total', { family: 'stint_broken' })).toBe(1);
    expect(sampleValue(families, 'stint_metrics_collect_failures_total', { family: 'stint_hangs' })).toBe(1);
  });

  it('refuses at start a family named twice, a name Prometheus would not take, or a reserved label', async () => {
    const twice = createExporter({
      logger: silentLogger,
      sources: () => [gauge('stint_x', 1), gauge('stint_x', 2)],
    });
    expect(() => twice.check()).toThrow(/two metric families are named stint_x/);
    const badName = createExporter({ logger: silentLogger, sources: () => [gauge('stint-x', 1)] });
    expect(() => badName.check()).toThrow(/not a Prometheus metric name/);
    const badBuckets = createExporter({
      logger: silentLogger,
      sources: () => [{ name: 'stint_h', help: 'h', type: 'histogram', buckets: [1, 1], collect: () => [] }],
    });
    expect(() => badBuckets.check()).toThrow(/ascending/);
    const le = createExporter({
      logger: silentLogger,
      sources: () => [
        {
          name: 'stint_h',
          help: 'h',
          type: 'histogram',
          buckets: [1],
          collect: () => [{ labels: { le: '1' }, counts: [0], sum: 0, count: 0 }],
        },
      ],
    });
    // A sample with a reserved label is a programming error of its module: that family is left out and counted.
    const families = parseExposition(await le.scrape());
    expect(sampleValue(families, 'stint_metrics_collect_failures_total', { family: 'stint_h' })).toBe(1);
  });
});

describe('STINT_METRICS_LISTEN', () => {
  it('parses host:port and [v6]:port, and refuses anything else naming the variable', () => {
    expect(metricsConfigFromEnv({})).toEqual({ listen: null });
    expect(metricsConfigFromEnv({ STINT_METRICS_LISTEN: '127.0.0.1:9464' })).toEqual({
      listen: { host: '127.0.0.1', port: 9464 },
    });
    expect(metricsConfigFromEnv({ STINT_METRICS_LISTEN: '[::1]:9464' })).toEqual({
      listen: { host: '::1', port: 9464 },
    });
    for (const bad of ['9464', 'host:', 'host:99999', 'http://x:1', 'a b:1']) {
      expect(() => metricsConfigFromEnv({ STINT_METRICS_LISTEN: bad })).toThrow(/STINT_METRICS_LISTEN/);
    }
  });

  it('serves /metrics without a credential on its own address, and nothing else there', async () => {
    const metrics = createMetricsModule({
      sources: () => [gauge('stint_listener_test', 3)],
      logger: silentLogger,
      config: { listen: { host: '127.0.0.1', port: 0 } },
    });
    for (const job of metrics.module.jobs ?? []) await job.start();
    try {
      const base = metrics.listenAddress() as string;
      expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${base}/metrics`);
      expect(res.status).toBe(200);
      expect(sampleValue(parseExposition(await res.text()), 'stint_listener_test')).toBe(3);
      expect((await fetch(`${base}/v1/requests`)).status).toBe(404);
      expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      for (const job of [...(metrics.module.jobs ?? [])].reverse()) await job.stop();
    }
    expect(metrics.listenAddress()).toBeNull();
  });

  it("answers with prom-client's own content type, though prom-client loads only at the first scrape", async () => {
    const { Registry } = await import('prom-client');
    expect(PROMETHEUS_CONTENT_TYPE).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
    const exporter = createExporter({ sources: () => [gauge('stint_up', 1)], logger: silentLogger });
    exporter.check();
    expect(exporter.contentType).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
    expect(await exporter.scrape()).toContain('stint_up 1');
  });
});
