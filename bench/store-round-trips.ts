// Counts the store's statements per request + approve cycle, by kind: `npx tsx bench/store-round-trips.ts [postgresql|sqlite]`.
// Issue 27 asks where the PostgreSQL store's time goes; every statement there is a network round trip.
import pg from 'pg';
import type { StoreKind } from '../test/support/stores.js';
import { buildBenchApp, expectStatus, untilActive } from './app.js';
import { createMemoryProvider } from './memory-provider.js';
import { MANAGER, REQUESTER, RESOURCE } from './policy.js';

const kind = (process.argv[2] ?? 'postgresql') as StoreKind;
const CYCLES = 50;
const counts = new Map<string, number>();
let counting = false;
const original = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  if (counting) {
    const first = args[0] as string | { text?: string };
    const text = typeof first === 'string' ? first : (first?.text ?? '?');
    const key = text.replace(/\s+/g, ' ').replace(/\$\d+/g, '?').slice(0, 110);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return (original as (...a: unknown[]) => unknown).apply(this, args);
} as typeof original;

const bench = await buildBenchApp(kind, () => () => createMemoryProvider());
try {
  const cycle = async (i: number) => {
    const created = await bench.post(REQUESTER, '/v1/requests', {
      resource: RESOURCE,
      role: 'admin',
      reason: `round trips ${i}`,
      duration: '4h',
    });
    expectStatus(created, 201, 'create');
    const approved = await bench.post(MANAGER, `/v1/requests/${created.body.id}/approve`, {});
    expectStatus(approved, 200, 'approve');
    await untilActive(bench, MANAGER, approved);
  };
  for (let i = 0; i < 20; i++) await cycle(i);
  counting = true;
  for (let i = 0; i < CYCLES; i++) await cycle(i);
  counting = false;
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  console.log(`${kind}: ${(total / CYCLES).toFixed(1)} statements per cycle`);
  for (const [text, n] of [...counts].sort((a, b) => b[1] - a[1])) {
    console.log(`${(n / CYCLES).toFixed(2).padStart(6)}  ${text}`);
  }
} finally {
  await bench.close();
}
