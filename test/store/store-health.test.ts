import { describe, expect, it } from 'vitest';
import { isStoreOutage } from '../../src/store/pg-pool.js';
import { createStoreMonitor } from '../../src/store/store-health.js';

const never = () => new Promise<never>(() => {});

describe('the store monitor', () => {
  it('goes down when a probe fails, keeps probing with backoff, and comes back on the first probe that answers', async () => {
    let probes = 0;
    let answer = false;
    const changes: boolean[] = [];
    const health = createStoreMonitor({
      probe: async () => {
        probes++;
        if (!answer) throw new Error('connect ECONNREFUSED');
      },
      query: async () => {},
      minBackoffMs: 5,
      maxBackoffMs: 20,
    });
    health.onChange((up) => changes.push(up));
    try {
      expect(health.available()).toBe(true);
      health.suspect();
      health.suspect(); // one probe loop at a time, however many callers suspect
      await new Promise((r) => setTimeout(r, 150));
      expect(health.available()).toBe(false);
      await expect(health.check(100)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      // Backoff doubles from 5 ms to a 20 ms cap: far fewer probes than a busy loop, more than one.
      expect(probes).toBeGreaterThan(3);
      expect(probes).toBeLessThan(20);
      answer = true;
      await new Promise((r) => setTimeout(r, 60));
      expect(health.available()).toBe(true);
      expect(changes).toEqual([false, true]);
    } finally {
      health.close();
    }
  });

  it('a suspicion the probe does not confirm changes nothing (one connection killed, the store fine)', async () => {
    const changes: boolean[] = [];
    const health = createStoreMonitor({ probe: async () => {}, query: async () => {} });
    health.onChange((up) => changes.push(up));
    health.suspect();
    await new Promise((r) => setTimeout(r, 20));
    expect(health.available()).toBe(true);
    expect(changes).toEqual([]);
    health.close();
  });

  it('check() is bounded: a query that never answers is STORE_UNAVAILABLE after the bound, and probed', async () => {
    let probed = false;
    const health = createStoreMonitor({
      probe: async () => {
        probed = true;
        await never();
      },
      query: never,
    });
    const began = Date.now();
    await expect(health.check(100)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(Date.now() - began).toBeLessThan(500);
    expect(probed).toBe(true);
    health.close();
  });
});

describe('isStoreOutage', () => {
  const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });
  it.each([
    ['refused', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['admin shutdown', withCode('terminating connection due to administrator command', '57P01')],
    ['starting up', withCode('the database system is starting up', '57P03')],
    ['statement timeout', withCode('canceling statement due to statement timeout', '57014')],
    ['connection exception', withCode('connection failure', '08006')],
    ['dropped', new Error('Connection terminated unexpectedly')],
    ['connect timeout', new Error('Connection terminated due to connection timeout')],
    ['pool wait', new Error('timeout exceeded when trying to connect')],
    ['read timeout', new Error('Query read timeout')],
    ['standby after failover', withCode('cannot execute INSERT in a read-only transaction', '25006')],
    ['no free slot', withCode('sorry, too many clients already', '53300')],
  ])('%s is an outage', (_, err) => {
    expect(isStoreOutage(err)).toBe(true);
  });
  it.each([
    ['unique violation', withCode('duplicate key value violates unique constraint', '23505')],
    ['serialization', withCode('could not serialize access', '40001')],
    ['syntax', withCode('syntax error', '42601')],
    ['not an error', 'ECONNREFUSED'],
  ])('%s is not', (_, err) => {
    expect(isStoreOutage(err)).toBe(false);
  });
});
