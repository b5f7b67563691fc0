import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createExpiryScheduler } from '../../src/grants/expiry-scheduler.js';

describe('expiry scheduler (one timer on the earliest deadline)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const at = (ms: number) => new Date(1_000_000 + ms);

  function scheduler() {
    const fired: string[] = [];
    const s = createExpiryScheduler(
      () => new Date(Date.now()),
      (id) => fired.push(id),
    );
    return { s, fired };
  }

  it('fires each grant at its instant, earliest first, whatever the order they were scheduled in', () => {
    const { s, fired } = scheduler();
    s.schedule('c', at(300));
    s.schedule('a', at(100));
    s.schedule('b', at(200));
    expect(s.size()).toBe(3);
    vi.advanceTimersByTime(99);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['a']);
    vi.advanceTimersByTime(200);
    expect(fired).toEqual(['a', 'b', 'c']);
    expect(s.size()).toBe(0);
  });

  it('fires grants with the same instant together, in one callback turn', () => {
    const { s, fired } = scheduler();
    for (const id of ['x', 'y', 'z']) s.schedule(id, at(50));
    vi.advanceTimersByTime(50);
    expect(fired.sort()).toEqual(['x', 'y', 'z']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never fires a cancelled grant, and moves a rescheduled one to its new instant', () => {
    const { s, fired } = scheduler();
    s.schedule('gone', at(100));
    s.schedule('moved', at(150));
    s.schedule('kept', at(200));
    s.cancel('gone');
    s.schedule('moved', at(400));
    vi.advanceTimersByTime(300);
    expect(fired).toEqual(['kept']);
    vi.advanceTimersByTime(100);
    expect(fired).toEqual(['kept', 'moved']);
  });

  it('an earlier grant scheduled later still fires first; an overdue one fires at once', () => {
    const { s, fired } = scheduler();
    s.schedule('late', at(1000));
    s.schedule('early', at(10));
    s.schedule('overdue', at(-5));
    vi.advanceTimersByTime(0);
    expect(fired).toEqual(['overdue']);
    vi.advanceTimersByTime(10);
    expect(fired).toEqual(['overdue', 'early']);
  });

  it('does not end access before its instant when the timer fires early against the clock', () => {
    let skew = -5;
    const fired: string[] = [];
    const s = createExpiryScheduler(
      () => new Date(Date.now() + skew),
      (id) => fired.push(id),
    );
    s.schedule('g', new Date(1_000_100));
    vi.advanceTimersByTime(100);
    expect(fired).toEqual([]);
    skew = 0;
    vi.advanceTimersByTime(5);
    expect(fired).toEqual(['g']);
  });

  it('re-arms deadlines beyond setTimeout range, and stop clears every deadline and the timer', () => {
    const { s, fired } = scheduler();
    const far = 2 ** 31 + 1000;
    s.schedule('far', at(far));
    vi.advanceTimersByTime(2 ** 31 - 1);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1001);
    expect(fired).toEqual(['far']);
    s.schedule('a', at(far + 5000));
    s.stop();
    expect(s.size()).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps its heap bounded when the same grants are rescheduled many times', () => {
    const { s, fired } = scheduler();
    for (let round = 1; round <= 50; round++) {
      for (let i = 0; i < 20; i++) s.schedule(`g${i}`, at(round * 10 + i));
    }
    expect(s.size()).toBe(20);
    vi.advanceTimersByTime(500 + 20);
    expect(fired.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `g${i}`).sort());
  });
});
