import type { MetricSample, MetricSource } from '../module.js';
import type { ProviderCallStats } from './provider-metrics.js';

/**
 * The wrapper's per kind and method call figures (instrument.ts records them; provider-metrics.ts keeps them in
 * this server's memory) as metric families: calls, failures by class (what an alert keys on), and time spent, so
 * that `rate(…_duration_seconds_total) / rate(…_calls_total)` is the mean latency. The slowest call since start
 * is there too: one hung target shows in it long before it moves a mean.
 */
export function providerMetricSources(snapshot: () => readonly ProviderCallStats[]): MetricSource[] {
  const per = (value: (s: ProviderCallStats) => number) => (): MetricSample[] =>
    snapshot().map((s) => ({ labels: { kind: s.kind, method: s.method }, value: value(s) }));
  return [
    {
      name: 'stint_provider_calls_total',
      help: 'Calls to target providers by this server, by kind and method',
      type: 'counter',
      collect: per((s) => s.calls),
    },
    {
      name: 'stint_provider_call_failures_total',
      help: 'Failed provider calls by this server, by kind, method and failure class (cancelled: cut by a deadline or shutdown)',
      type: 'counter',
      collect: () =>
        snapshot().flatMap((s) =>
          Object.entries(s.failuresByClass).map(([cls, n]) => ({
            labels: { kind: s.kind, method: s.method, class: cls },
            value: n ?? 0,
          })),
        ),
    },
    {
      name: 'stint_provider_call_duration_seconds_total',
      help: 'Time spent in provider calls by this server, by kind and method',
      type: 'counter',
      collect: per((s) => s.totalMs / 1000),
    },
    {
      name: 'stint_provider_call_duration_max_seconds',
      help: 'The slowest provider call since this server started, by kind and method',
      type: 'gauge',
      collect: per((s) => s.maxMs / 1000),
    },
  ];
}
