import { describe, expect, it } from 'vitest';
import { eachPerTarget } from '../../src/grants/per-target.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('eachPerTarget', () => {
  it('runs every item, at most `limit` at once per target, targets side by side', async () => {
    const items = [
      ...Array.from({ length: 20 }, (_, i) => ({ target: 'a', i })),
      ...Array.from({ length: 5 }, (_, i) => ({ target: 'b', i })),
    ];
    const running = new Map<string, number>();
    const peak = new Map<string, number>();
    let peakAll = 0;
    const done: string[] = [];
    await eachPerTarget(
      items,
      (x) => x.target,
      async (x) => {
        running.set(x.target, (running.get(x.target) ?? 0) + 1);
        peak.set(x.target, Math.max(peak.get(x.target) ?? 0, running.get(x.target) ?? 0));
        peakAll = Math.max(
          peakAll,
          [...running.values()].reduce((a, b) => a + b, 0),
        );
        await tick();
        running.set(x.target, (running.get(x.target) ?? 1) - 1);
        done.push(`${x.target}${x.i}`);
      },
      4,
    );
    expect(done.sort()).toEqual(items.map((x) => `${x.target}${x.i}`).sort());
    expect(peak.get('a')).toBe(4);
    expect(peak.get('b')).toBe(4);
    expect(peakAll).toBe(8);
  });

  it('attempts every item when some fail, then rethrows the first failure', async () => {
    const seen: number[] = [];
    const run = eachPerTarget(
      [1, 2, 3, 4, 5],
      () => 't',
      async (n) => {
        await tick();
        seen.push(n);
        if (n % 2 === 0) throw new Error(`failed ${n}`);
      },
      2,
    );
    await expect(run).rejects.toThrow('failed 2');
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5]);
  });
});
