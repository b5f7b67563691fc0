import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The portal's API types are generated from docs/openapi.json (`npm run api:types`, run by `npm run openapi`):
 * the committed file must be exactly what the generator makes of the committed document, so a route or field
 * changed on the server fails the portal's type-check instead of its users.
 */
it('web/src/api/schema.d.ts is openapi-typescript’s output for docs/openapi.json', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-api-types-'));
  try {
    const out = join(dir, 'schema.d.ts');
    await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'node_modules/openapi-typescript/bin/cli.js'), join(ROOT, 'docs/openapi.json'), '-o', out],
      { cwd: ROOT },
    );
    const committed = readFileSync(join(ROOT, 'web/src/api/schema.d.ts'), 'utf8');
    expect(committed === readFileSync(out, 'utf8'), 'stale: run `npm run api:types`').toBe(true);
    expect(committed).toContain('previewRequest');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
