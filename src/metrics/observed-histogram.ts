import type { HistogramSample } from '../module.js';

/** A histogram kept in this server's memory: each observation lands in every bucket whose bound it is under. */
export interface ObservedHistogram {
  observe(value: number): void;
  sample(labels?: Readonly<Record<string, string>>): HistogramSample;
}

export function createObservedHistogram(buckets: readonly number[]): ObservedHistogram {
  const counts = buckets.map(() => 0);
  let sum = 0;
  let count = 0;
  return {
    observe(value) {
      if (!Number.isFinite(value)) return;
      for (let i = buckets.length - 1; i >= 0 && value <= (buckets[i] as number); i--) {
        counts[i] = (counts[i] as number) + 1;
      }
      sum += value;
      count += 1;
    },
    sample: (labels) => ({ ...(labels ? { labels } : {}), counts: [...counts], sum, count }),
  };
}
