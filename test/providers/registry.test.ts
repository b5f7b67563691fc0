import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { StintError } from '../../src/domain/errors.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import type { Resource } from '../../src/policy/policy-types.js';
import { readConnectionRef } from '../../src/providers/connection-ref.js';
import { BUILTIN_KINDS } from '../../src/providers/kinds.js';
import { NO_CANCEL } from '../../src/providers/provider.js';
import {
  createKindRegistry,
  createProvider,
  resolveProviderConfig,
  resolveProviderConfigs,
} from '../../src/providers/registry.js';

const OWNER = { deployment: 'registry-test', storeId: 'st_0000000000000000' };

const resource = (connection: Resource['connection'], id = 'prod-db'): Resource => ({
  id,
  kind: 'postgres',
  description: 'test',
  sensitivity: 'critical',
  connection,
  options: {},
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
    expect(readConnectionRef(resource({ env: 'STINT_X' }), { STINT_X: ' postgres://a:b@h/db \n' })).toBe(
      'postgres://a:b@h/db',
    );
    expect(
      resolveProviderConfig(resource({ env: 'STINT_X' }), { STINT_X: 'postgres://a:b@h/db' }),
    ).toMatchObject({
      kind: 'postgres',
      host: 'h',
      database: 'db',
    });
  });

  it('reads the admin URL from a file, trimmed', () => {
    const file = join(dir, 'url');
    writeFileSync(file, 'postgres://a:b@h/db\n');
    expect(readConnectionRef(resource({ file }), {})).toBe('postgres://a:b@h/db');
  });

  it('takes PostgreSQL’s publicHost, publicPort and connectionLimit from the policy’s options block', () => {
    const text = `version: 1
users: [{ id: alice, email: alice@example.com, teams: [t] }]
resources:
  - id: prod-db
    kind: postgres
    sensitivity: routine
    connection: { env: STINT_X }
    options: { publicHost: db.example.com, publicPort: 6432, connectionLimit: 2 }
    roles: { read: { grants: [app_read] } }
rules: []
`;
    const policy = parsePolicy(text, 'stint.yaml', BUILTIN_KINDS);
    const configs = createKindRegistry().resolveAll(policy.resources.values(), {
      STINT_X: 'postgres://a:b@internal:5432/db',
    });
    expect(configs.get('prod-db')?.config).toMatchObject({
      host: 'internal',
      publicHost: 'db.example.com',
      publicPort: 6432,
      connectionLimit: 2,
    });
  });

  it('names a missing env var or file as a configuration error, without revealing any value', () => {
    const unset = thrown(() =>
      createProvider(resource({ env: 'STINT_X' }), { OTHER: 'postgres://u:secret@h/db' }, { owner: OWNER }),
    );
    expect(unset.code).toBe('CONFIG_INVALID');
    expect(unset.message).toBe('resource prod-db: env STINT_X is not set');
    expect(thrown(() => readConnectionRef(resource({ env: 'STINT_X' }), { STINT_X: '  ' })).message).toBe(
      'resource prod-db: env STINT_X is not set',
    );

    const missing = thrown(() => readConnectionRef(resource({ file: join(dir, 'nope') }), {}));
    expect(missing.code).toBe('CONFIG_INVALID');
    expect(missing.message).toContain('cannot be read (ENOENT)');

    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    expect(thrown(() => readConnectionRef(resource({ file: empty }), {})).message).toContain('is empty');
  });

  it('checks every resource of a policy at once: one CONFIG_INVALID naming each resource and where it looked', () => {
    const file = join(dir, 'bad-url');
    writeFileSync(file, 'mysql://u:pw-in-file@h/db\n');
    const resources = new Map(
      [
        resource({ env: 'STINT_OK' }, 'ok-db'),
        resource({ env: 'STINT_MISSING' }, 'missing-db'),
        resource({ env: 'STINT_NOT_URL' }, 'garbled-db'),
        resource({ file }, 'wrong-kind-db'),
      ].map((r) => [r.id, r]),
    );
    const env = { STINT_OK: 'postgres://a:b@h/db', STINT_NOT_URL: 'pw-in-env not a url' };
    const err = thrown(() => resolveProviderConfigs({ resources }, env)) as StintError<'CONFIG_INVALID'>;
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.details?.problems).toEqual([
      'resource missing-db: env STINT_MISSING is not set',
      'resource garbled-db: env STINT_NOT_URL is not a valid URL',
      `resource wrong-kind-db: file ${file} must be a postgres:// URL`,
    ]);
    expect(err.message).not.toMatch(/pw-in-/);
    expect(err.message).not.toContain('ok-db');

    const fine = resolveProviderConfigs(
      { resources: new Map([['ok-db', resources.get('ok-db') as Resource]]) },
      env,
    );
    expect([...fine.keys()]).toEqual(['ok-db']);
  });

  it('builds a postgres provider for a postgres resource, inside the wrapper', async () => {
    const provider = createProvider(
      resource({ env: 'STINT_X' }),
      {
        STINT_X: inject('pgCluster').stintAdminUrl,
      },
      { owner: OWNER },
    );
    try {
      expect(provider.kind).toBe('postgres');
      expect((await provider.ping({}, NO_CANCEL)).target).toMatch(/^PostgreSQL \d+/);
    } finally {
      await provider.close();
    }
  });

  it('refuses an unknown kind', () => {
    const odd = { ...resource({ env: 'STINT_X' }), kind: 'mongo' } as unknown as Resource;
    const err = thrown(() => createProvider(odd, { STINT_X: 'postgres://a@h/db' }, { owner: OWNER }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toBe('resource prod-db: unknown kind mongo');
  });
});
