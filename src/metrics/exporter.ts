import type { Metric, Registry } from 'prom-client';
import type { Logger } from '../logger.js';
import type { HistogramSample, MetricSample, MetricSource } from '../module.js';

/** Prometheus's grammar for names and label names (data model); `__` prefixes are reserved. */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** One family that does not answer in time is left out of the scrape rather than holding it. */
const COLLECT_TIMEOUT_MS = 5_000;

interface PromValue {
  value: number;
  labels: Record<string, string>;
  metricName?: string;
}

/** What prom-client's registry reads from a metric: its text is rendered from this. */
interface Collected {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  values: PromValue[];
  aggregator: 'sum';
}

/** prom-client's Registry.PROMETHEUS_CONTENT_TYPE, the text format 0.0.4 (tested against it). */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const promLe = (bound: number) => (bound === Number.POSITIVE_INFINITY ? '+Inf' : String(bound));

function checkLabels(
  family: string,
  labels: Readonly<Record<string, string>> | undefined,
  reserved?: string,
) {
  for (const name of Object.keys(labels ?? {})) {
    if (!LABEL_NAME.test(name) || name.startsWith('__') || name === reserved) {
      throw new Error(`metric ${family}: label name ${JSON.stringify(name)} is not allowed`);
    }
  }
}

function counted(source: MetricSource & { type: 'counter' | 'gauge' }, samples: MetricSample[]): PromValue[] {
  return samples
    .filter((s) => Number.isFinite(s.value))
    .map((s) => {
      checkLabels(source.name, s.labels);
      return { value: s.value, labels: { ...s.labels } };
    });
}

function histogram(source: MetricSource & { type: 'histogram' }, samples: HistogramSample[]): PromValue[] {
  const out: PromValue[] = [];
  for (const s of samples) {
    checkLabels(source.name, s.labels, 'le');
    if (s.counts.length !== source.buckets.length) {
      throw new Error(
        `metric ${source.name}: ${s.counts.length} bucket counts for ${source.buckets.length} buckets`,
      );
    }
    const labels = { ...s.labels };
    source.buckets.forEach((bound, i) => {
      out.push({
        metricName: `${source.name}_bucket`,
        labels: { ...labels, le: promLe(bound) },
        value: s.counts[i] ?? 0,
      });
    });
    out.push({ metricName: `${source.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: s.count });
    out.push({ metricName: `${source.name}_sum`, labels, value: s.sum });
    out.push({ metricName: `${source.name}_count`, labels, value: s.count });
  }
  return out;
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

export interface MetricsExporter {
  /** `text/plain; version=0.0.4; charset=utf-8`: the Prometheus text format. */
  readonly contentType: string;
  /** Every family's samples now, as Prometheus text. */
  scrape(): Promise<string>;
  /** Registers every family (checking names once): a bad or repeated name stops the boot, not a scrape. */
  check(): void;
  /** Scrapes answered since start: a refused scrape never gets here, so it never costs a collection. */
  scrapes(): number;
}

/**
 * One prom-client registry holding every module's metric families (module.ts's MetricSource): each family is
 * collected when scraped, all at once, and rendered by prom-client. A family whose collection fails or hangs
 * (the store is down) is left out of that scrape and counted in `stint_metrics_collect_failures_total`; the
 * others still answer, so an outage does not blind the dashboards that would show it.
 */
export function createExporter(opts: {
  sources: () => readonly MetricSource[];
  logger: Logger;
  timeoutMs?: number;
}): MetricsExporter {
  const timeoutMs = opts.timeoutMs ?? COLLECT_TIMEOUT_MS;
  const failures = new Map<string, number>();
  let scrapes = 0;
  let registry: Registry | null = null;
  /** This scrape's collections: prom-client starts them all at once, the exporter's own families last. */
  let round: Promise<unknown>[] = [];

  const own: MetricSource[] = [
    {
      name: 'stint_metrics_collect_failures_total',
      help: 'Metric families left out of a scrape because collecting them failed or timed out, by family',
      type: 'counter',
      // After every other family of this scrape: a failure shows in the scrape it happened in.
      async collect() {
        await Promise.allSettled(round);
        return [...failures].map(([family, value]) => ({ labels: { family }, value }));
      },
    },
    {
      name: 'stint_metrics_scrapes_total',
      help: 'Scrapes of /metrics this server answered',
      type: 'counter',
      collect: () => [{ value: scrapes }],
    },
  ];

  async function collectOne(source: MetricSource): Promise<Collected> {
    let values: PromValue[] = [];
    try {
      const samples = await withTimeout(Promise.resolve(source.collect()), timeoutMs, source.name);
      values =
        source.type === 'histogram'
          ? histogram(source, samples as HistogramSample[])
          : counted(source, samples as MetricSample[]);
    } catch (err) {
      failures.set(source.name, (failures.get(source.name) ?? 0) + 1);
      opts.logger.warn({ err, metric: source.name }, `metric ${source.name} left out of the scrape`);
    }
    return { name: source.name, help: source.help, type: source.type, values, aggregator: 'sum' };
  }

  function adapter(source: MetricSource) {
    return {
      name: source.name,
      help: source.help,
      type: source.type,
      get(): Promise<Collected> {
        const work = collectOne(source);
        round.push(work);
        return work;
      },
    };
  }

  /** Every family, its name and buckets checked once: prom-client is not needed for that. */
  function families(): MetricSource[] {
    const all = [...opts.sources(), ...own];
    const names = new Set<string>();
    for (const source of all) {
      if (!METRIC_NAME.test(source.name) || source.name.startsWith('__')) {
        throw new Error(`metric name ${JSON.stringify(source.name)} is not a Prometheus metric name`);
      }
      if (source.type === 'histogram') {
        const b = source.buckets;
        if (b.length === 0 || b.some((x, i) => !Number.isFinite(x) || (i > 0 && x <= (b[i - 1] as number)))) {
          throw new Error(`metric ${source.name}: buckets must be finite and ascending`);
        }
      }
      if (names.has(source.name)) throw new Error(`two metric families are named ${source.name}`);
      names.add(source.name);
    }
    return all;
  }

  let checked: MetricSource[] | null = null;
  // prom-client (~2.5 MB of heap) loads at the first scrape: a server nobody scrapes does not hold it.
  let loading: Promise<Registry> | null = null;
  function build(): Promise<Registry> {
    checked ??= families();
    const sources = checked;
    loading ??= import('prom-client').then(
      ({ Registry }) => {
        const next = new Registry();
        // prom-client renders any object with a name, help, type and get(); its own classes keep state we do not.
        for (const source of sources) next.registerMetric(adapter(source) as unknown as Metric);
        return next;
      },
      (err: unknown) => {
        loading = null;
        throw err;
      },
    );
    return loading;
  }

  return {
    contentType: PROMETHEUS_CONTENT_TYPE,
    check() {
      checked ??= families();
    },
    async scrape() {
      registry ??= await build();
      scrapes += 1;
      round = [];
      return registry.metrics();
    },
    scrapes: () => scrapes,
  };
}
