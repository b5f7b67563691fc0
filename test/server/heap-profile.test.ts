import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/load-config.js';
import { generateNoteKey } from '../../src/audit/log/signed-note.js';
import { applyHeapProfile } from '../../src/server/heap-profile.js';
import { targetEnv } from '../support/harness.js';
import { startServerProcess } from '../support/server-process.js';
import { TEST_POLICY } from '../support/test-policy.js';

const PROFILE = fileURLToPath(new URL('../../src/server/heap-profile.ts', import.meta.url));

/**
 * A child applies the profile as `stint server` does, then keeps a sliding window of young objects alive (what a
 * busy server does between awaits) and reports the young generation's size: V8 grows it to its maximum (tens of
 * MB on this machine) unless the profile holds it at its starting size.
 */
async function youngGenerationMb(env: NodeJS.ProcessEnv, flags: string[] = []): Promise<number> {
  const script = `
    const { applyHeapProfile } = await import(${JSON.stringify(PROFILE)});
    applyHeapProfile();
    const v8 = await import('node:v8');
    const window = new Array(50_000);
    for (let i = 0; i < 400_000; i++) window[i % 50_000] = { i, s: 'x'.repeat(32) + i };
    const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    process.stdout.write(String(space.space_size / 1048576));
  `;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...flags, '--import', 'tsx', '--input-type=module', '-e', script],
    { env: { ...process.env, ...env } },
  );
  return Number(stdout);
}

describe('the server heap profile', () => {
  it('keeps the young generation at its starting size by default, where V8 alone grows it', async () => {
    const lean = await youngGenerationMb({ STINT_HEAP: '' });
    const v8 = await youngGenerationMb({ STINT_HEAP: 'v8' });
    expect(lean).toBeGreaterThan(0);
    expect(lean).toBeLessThanOrEqual(8);
    expect(v8).toBeGreaterThanOrEqual(4 * lean);
  });

  it('leaves a heap the operator sized alone: their flags win', async () => {
    expect(applyHeapProfile({}, ['--max-old-space-size=512'])).toEqual([]);
    expect(applyHeapProfile({ NODE_OPTIONS: '--max-semi-space-size=16' }, [])).toEqual([]);
    expect(applyHeapProfile({ STINT_HEAP: 'v8' }, [])).toEqual([]);
    const grown = await youngGenerationMb({ STINT_HEAP: '' }, ['--min-semi-space-size=16']);
    expect(grown).toBeGreaterThanOrEqual(16);
  });

  it('refuses an unknown STINT_HEAP at start, naming it, as every setting is refused', () => {
    expect(() =>
      loadConfig(
        { policyPath: 'p.yaml', dataDir: '/tmp/stint-heap-test' },
        { STINT_HEAP: 'tiny', STINT_ENCRYPTION_KEY: 'k', STINT_AUDIT_SIGNING_KEY: 'k' },
      ),
    ).toThrow(/STINT_HEAP: must be lean or v8/);
  });

  it('is what `stint server` runs with, says so at start, and STINT_HEAP=v8 or a bad value is heard', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-heap-'));
    const policyPath = join(dir, 'stint.yaml');
    writeFileSync(policyPath, TEST_POLICY);
    const env = {
      ...targetEnv(),
      STINT_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      STINT_AUDIT_SIGNING_KEY: generateNoteKey('stint-test').skey,
      STINT_LOG_LEVEL: 'warn',
    };
    const args = (n: string) => [
      '--policy',
      policyPath,
      '--db',
      `sqlite:${join(dir, `${n}.db`)}`,
      '--port',
      '0',
    ];
    try {
      for (const [heap, said] of [
        ['', 'heap lean'],
        ['v8', 'heap as V8 sizes it'],
      ] as const) {
        const server = await startServerProcess([...args(heap || 'lean'), '--data-dir', dir], {
          ...env,
          STINT_HEAP: heap,
        });
        try {
          expect(server.output()).toMatch(new RegExp(`Stint listening on .*, ${said}\\)`));
        } finally {
          await server.kill9();
        }
      }
      await expect(
        startServerProcess([...args('bad'), '--data-dir', dir], { ...env, STINT_HEAP: 'tiny' }),
      ).rejects.toThrow(/CONFIG_INVALID[\s\S]*STINT_HEAP: must be lean or v8/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
