import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { StintError } from '../../src/domain/errors.js';
import type { Resource } from '../../src/policy/policy-types.js';
import { createProvider, resolveConnection } from '../../src/providers/registry.js';

const OWNER = { deployment: 'registry-test', storeId: 'st_0000000000000000' };

const resource = (connection: Resource['connection']): Resource => ({
  id: 'prod-db',
  kind: 'postgres',
  description: 'test',
  sensitivity: 'critical',
  connection,
  roles: {},
});

function thrown(fn: () => unknown): StintError {
  try {
    fn();
  } catch (e) {
    if (e instanceof StintError) return e;
    throw e;
  }
  throw new Error('expected a StintError');
}

describe('provider registry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-registry-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the admin URL from an env var', () => {
    expect(resolveConnection(resource({ env: 'STINT_X' }), { STINT_X: ' postgres://a:b@h/db \n' })).toBe(
      'postgres://a:b@h/db',
    );
  });

  it('reads the admin URL from a file, trimmed', () => {
    const file = join(dir, 'url');
    writeFileSync(file, 'postgres://a:b@h/db\n');
    expect(resolveConnection(resource({ file }), {})).toBe('postgres://a:b@h/db');
  });

  it('names a missing env var or file without revealing any value', () => {
    const unset = thrown(() =>
      createProvider(resource({ env: 'STINT_X' }), { OTHER: 'postgres://u:secret@h/db' }, { owner: OWNER }),
    );
    expect(unset.code).toBe('PROVIDER_ERROR');
    expect(unset.message).toBe('resource prod-db: env STINT_X is not set');
    expect(thrown(() => resolveConnection(resource({ env: 'STINT_X' }), { STINT_X: '  ' })).message).toBe(
      'resource prod-db: env STINT_X is not set',
    );

    const missing = thrown(() => resolveConnection(resource({ file: join(dir, 'nope') }), {}));
    expect(missing.code).toBe('PROVIDER_ERROR');
    expect(missing.message).toContain('cannot be read (ENOENT)');

    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    expect(thrown(() => resolveConnection(resource({ file: empty }), {})).message).toContain('is empty');
  });

  it('builds a postgres provider for a postgres resource', async () => {
    const provider = createProvider(
      resource({ env: 'STINT_X' }),
      {
        STINT_X: inject('pgCluster').stintAdminUrl,
      },
      { owner: OWNER },
    );
    try {
      expect(provider.kind).toBe('postgres');
      await provider.ping();
    } finally {
      await provider.close();
    }
  });

  it('refuses an unknown kind', () => {
    const odd = { ...resource({ env: 'STINT_X' }), kind: 'redis' } as unknown as Resource;
    expect(
      thrown(() => createProvider(odd, { STINT_X: 'postgres://a@h/db' }, { owner: OWNER })).message,
    ).toBe('resource prod-db: unknown kind redis');
  });
});
