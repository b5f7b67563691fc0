import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { withFileLock } from '../../../src/providers/ssh/file-lock.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const PORTAL_DIR = join(ROOT, 'dist/web');
const WEB = join(ROOT, 'web');
// Vite refuses a second build of one project while another runs ("Found another Vite build process"), and two
// portal files start in parallel workers: one builds under the lock, the others wait and then find it current.
const LOCK = join(ROOT, 'dist/portal-build');

/** The newest modification time under `dir` (sources of the portal). */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

function current(): boolean {
  const index = join(PORTAL_DIR, 'index.html');
  return existsSync(index) && statSync(index).mtimeMs >= newest(WEB);
}

/**
 * Builds the portal into dist/web when it is missing or older than its sources, as `npm run build:web` does, so
 * the end-to-end tests run from a fresh clone and never against a stale build. Vite runs in its own process.
 */
export async function ensurePortalBuilt(): Promise<{ built: boolean; ms: number }> {
  if (current()) return { built: false, ms: 0 };
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  return withFileLock(LOCK, AbortSignal.timeout(5 * 60_000), async () => {
    const start = Date.now();
    if (current()) return { built: false, ms: 0 };
    const vite = join(ROOT, 'node_modules/vite/bin/vite.js');
    await promisify(execFile)(
      process.execPath,
      [vite, 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'],
      {
        cwd: ROOT,
        env: { ...process.env, NODE_ENV: 'production' },
        maxBuffer: 8 * 1024 * 1024,
      },
    );
    return { built: true, ms: Date.now() - start };
  });
}
