import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createKindRegistry } from '../../src/providers/registry.js';
import { providerContract } from './contract.js';
import { type FAKE_GRANTS, fakeKind, openFakeTarget } from './fake-kind.js';

/**
 * The whole contract suite against a kind registered from test code only (expire-only, not listable): the
 * suite follows the declared capabilities and says which tests it skips and why.
 */
const dir = mkdtempSync(join(tmpdir(), 'stint-fake-kind-'));
const file = join(dir, 'target.db');
const connection = `fake:${file}?key=fake-key-do-not-echo`;
const registry = createKindRegistry([fakeKind]);
const spec = {
  id: 'fake-target',
  kind: 'fake',
  connection: { env: 'STINT_FAKE_TARGET' },
  options: { issueDelayMs: 40 },
};

providerContract('fake (test-only, expire-only, not listable)', {
  kind: fakeKind,
  networked: false,
  server: {
    kindsModule: fileURLToPath(new URL('./fake-kind.ts', import.meta.url)),
    resourceYaml: `  - id: crash-target
    kind: fake
    sensitivity: routine
    connection: { env: STINT_FAKE_TARGET }
    options: { issueDelayMs: 60 }
    roles:
      use: { grants: [fake_read] }`,
    env: { STINT_FAKE_TARGET: connection },
  },
  fixture: async () => {
    const root = openFakeTarget(file);
    const row = (principal: string) =>
      root.prepare('SELECT token, grants, expires_at FROM creds WHERE principal = ?').get(principal) as
        | { token: string; grants: string; expires_at: number }
        | undefined;
    return {
      grants: ['fake_read'],
      unknownGrant: 'fake_missing',
      makeProvider: (owner) =>
        registry.create(registry.resolve(spec, { STINT_FAKE_TARGET: connection }), { owner }),
      async openSession(secret) {
        const principal = secret.principal as string;
        const valid = () => {
          const r = row(principal);
          return r !== undefined && r.token === secret.token && r.expires_at > Date.now() ? r : undefined;
        };
        const first = valid();
        if (!first) throw new Error('the fake target refuses this token');
        const may = (grant: (typeof FAKE_GRANTS)[number]) => async () => {
          const r = valid();
          if (!r || !(JSON.parse(r.grants) as string[]).includes(grant))
            throw new Error(`not granted: ${grant}`);
          return true;
        };
        return {
          doGranted: may('fake_read'),
          doUngranted: may('fake_write'),
          alive: async () => valid() !== undefined,
          close: async () => {},
        };
      },
      principalExists: async (principal) => row(principal) !== undefined,
      close: async () => {
        root.close();
      },
    };
  },
});
