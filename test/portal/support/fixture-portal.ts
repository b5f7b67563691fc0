import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type BuiltPortal, loadPortal } from '../../../src/server/portal.js';

export const FIXTURE_SCRIPT = 'console.log("portal fixture");\n';

/**
 * A stand-in build (one shell, one script and its .gz) for server tests that need the portal's routes to answer
 * without running Vite: what they check is the serving, not the pages.
 */
export function fixturePortal(): { portal: BuiltPortal; dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'stint-portal-fixture-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(
    join(dir, 'index.html'),
    '<!doctype html><html lang="en"><head><title>Stint</title><script type="module" src="/assets/app-1234.js"></script></head><body><div id="root"></div></body></html>\n',
  );
  writeFileSync(join(dir, 'assets', 'app-1234.js'), FIXTURE_SCRIPT);
  writeFileSync(join(dir, 'assets', 'app-1234.js.gz'), gzipSync(FIXTURE_SCRIPT));
  writeFileSync(join(dir, 'secret.txt'), 'outside the assets folder\n');
  const portal = loadPortal(dir);
  if (!portal) throw new Error('the fixture portal did not load');
  return { portal, dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
