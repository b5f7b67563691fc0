/**
 * The portal's first load, on loopback: what a browser downloads before the first page is usable, and how long
 * that takes. The real server (the bench app's Stint, SQLite store, in-memory provider) serves the built portal
 * over HTTP; Debian's Chromium loads it with a signed-in session cookie and a cold cache each time (a fresh
 * browser context per load).
 *
 *   - first-load bytes: what went over the wire for the document and every script and stylesheet it loads
 *     (compressed as the server sent them: build:web writes .br and .gz), and the bundle's own raw/gzip/br sizes;
 *   - DOMContentLoaded, and "interactive": the time from navigation start until the home page has rendered the
 *     answers of its first API calls (/auth/session, /v1/whoami), the moment a person can act.
 *
 * `npx tsx bench/portal.ts [samples]` prints them. Not a test: nothing here asserts a bound.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { buildHttpApp } from '../src/server/http-app.js';
import { loadPortal } from '../src/server/portal.js';
import { ensurePortalBuilt, PORTAL_DIR } from '../test/portal/support/build-portal.js';
import { buildBenchApp } from './app.js';
import { createMemoryProvider } from './memory-provider.js';
import { REQUESTER } from './policy.js';
import { percentile, round } from './stats.js';

export interface PortalFigures {
  samples: number;
  /** The shell and what it references (scripts, stylesheets), as built. */
  bundle: { files: string[]; rawBytes: number; gzipBytes: number; brotliBytes: number };
  /** Bytes over the wire for the document, scripts and stylesheets of one cold load (as the server encoded them). */
  firstLoadBytes: number;
  domContentLoadedP50Ms: number;
  interactiveP50Ms: number;
  interactiveP90Ms: number;
  /** The aims of issue 25: under 250 KB compressed, interactive under 1 s on loopback. */
  aims: { bytes: number; interactiveMs: number };
  notes: string[];
}

const CHROMIUM = '/usr/bin/chromium';

/** The files index.html loads, from its own tags. */
function bundleOf(dir: string) {
  const index = readFileSync(join(dir, 'index.html'), 'utf8');
  const refs = [...index.matchAll(/(?:src|href)="\/assets\/([^"]+)"/g)].map((m) => m[1] as string);
  const files = ['index.html', ...refs.map((r) => `assets/${r}`)];
  let rawBytes = 0;
  let gzipBytes = 0;
  let brotliBytes = 0;
  for (const f of files) {
    const data = readFileSync(join(dir, f));
    rawBytes += statSync(join(dir, f)).size;
    gzipBytes += gzipSync(data, { level: 9 }).length;
    brotliBytes += brotliCompressSync(data).length;
  }
  return { files, rawBytes, gzipBytes, brotliBytes };
}

export async function measurePortal(samples = 20): Promise<PortalFigures> {
  const notes: string[] = [];
  const built = await ensurePortalBuilt();
  if (built.built) notes.push(`built the portal first (${built.ms} ms)`);
  const portal = loadPortal(PORTAL_DIR);
  if (!portal) throw new Error(`no portal in ${PORTAL_DIR}`);
  const bundle = bundleOf(PORTAL_DIR);

  const bench = await buildBenchApp('sqlite', () => () => createMemoryProvider());
  const app = await buildHttpApp(bench.stint, { portal });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const url = address.replace('127.0.0.1', 'localhost');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      '--host-resolver-rules=MAP localhost 127.0.0.1',
    ],
  });
  const dcl: number[] = [];
  const interactive: number[] = [];
  const bytes: number[] = [];
  try {
    const name = bench.stint.deps.policy.current().users.get(REQUESTER)?.name ?? REQUESTER;
    for (let i = 0; i < samples + 1; i++) {
      const { token } = await bench.stint.identity.sessions.create({
        userId: REQUESTER,
        source: 'oidc',
        now: new Date(),
        ttlMs: 600_000,
        mfaAt: null,
      });
      const context = await browser.newContext();
      await context.addCookies([
        { name: 'stint_session', value: token, url, httpOnly: true, sameSite: 'Lax' },
      ]);
      const page = await context.newPage();
      let wire = 0;
      page.on('response', async (res) => {
        const type = res.request().resourceType();
        if (type !== 'document' && type !== 'script' && type !== 'stylesheet') return;
        wire += (await res.request().sizes()).responseBodySize;
      });
      await page.goto(`${url}/`);
      await page.getByRole('heading', { name: `Hello, ${name}` }).waitFor({ timeout: 10_000 });
      const at = await page.evaluate(() => {
        const p = globalThis as unknown as {
          performance: { now(): number; getEntriesByType(t: string): { domContentLoadedEventEnd: number }[] };
        };
        return {
          now: p.performance.now(),
          dcl: p.performance.getEntriesByType('navigation')[0]?.domContentLoadedEventEnd ?? 0,
        };
      });
      await context.close();
      // The first load warms the server (JIT, store pages) and the browser process: not counted.
      if (i === 0) continue;
      interactive.push(at.now);
      dcl.push(at.dcl);
      bytes.push(wire);
    }
  } finally {
    await browser.close();
    await app.close();
    await bench.close();
  }
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  notes.push(
    'interactive = navigation start → the home page rendered with the answers of /auth/session and /v1/whoami',
  );
  return {
    samples,
    bundle,
    firstLoadBytes: Math.max(...bytes),
    domContentLoadedP50Ms: round(percentile(sorted(dcl), 50)),
    interactiveP50Ms: round(percentile(sorted(interactive), 50)),
    interactiveP90Ms: round(percentile(sorted(interactive), 90)),
    aims: { bytes: 250 * 1024, interactiveMs: 1000 },
    notes,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const samples = Number(process.argv[2] ?? 20);
  measurePortal(samples).then(
    (f) => {
      process.stdout.write(`${JSON.stringify(f, null, 2)}\n`);
      process.exit(0);
    },
    (e) => {
      process.stderr.write(`${e instanceof Error ? e.stack : e}\n`);
      process.exit(1);
    },
  );
}
