import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/demo-target.sql', import.meta.url));

/**
 * The quick start prepares the machine's PostgreSQL with a public demo password. On a server that also hosts a
 * real deployment, its `stint_admin` must survive: the script changes only a role it made itself.
 */
describe('scripts/demo-target.sql on a server with another deployment', () => {
  const cluster = inject('pgCluster');

  it('refuses to touch a stint_admin it did not make, whose password keeps working', async () => {
    const failed = await run('psql', [
      cluster.superuserUrl,
      '-v',
      'ON_ERROR_STOP=1',
      '-q',
      '-f',
      SCRIPT,
    ]).then(
      () => null,
      (e: { stderr?: string }) => e,
    );
    expect(failed?.stderr).toMatch(/a stint_admin role exists that this script did not make/);

    // The real admin still logs in with its own password; the demo's public one is refused.
    const real = new pg.Client({ connectionString: cluster.stintAdminUrl });
    await real.connect();
    await real.end();
    const demo = new URL(cluster.stintAdminUrl);
    demo.password = 'stint-demo-only';
    const impostor = new pg.Client({ connectionString: demo.toString() });
    await expect(impostor.connect()).rejects.toThrow(/password authentication failed/);
    await impostor.end().catch(() => {});
  });
});
