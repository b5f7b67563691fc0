import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPolicyHolder } from '../../src/app/policy-holder.js';
import { createStint, type Stint } from '../../src/app/stint.js';
import { generateNoteKey, parseSkey } from '../../src/audit/log/signed-note.js';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { directoryConfigFromEnv } from '../../src/directory/directory-config.js';
import type { DirectoryModule } from '../../src/directory/directory-module.js';
import { scimRoutes } from '../../src/directory/scim-routes.js';
import { silentLogger } from '../../src/logger.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import { createProvider } from '../../src/providers/registry.js';
import { readStoreId } from '../../src/store/store-identity.js';
import { settledIn, targetEnv } from '../support/harness.js';
import { createTestStore, type TestStore } from '../support/stores.js';
import { TEST_POLICY } from '../support/test-policy.js';
import { SCIM_TOKEN, scimUser } from './scim-fixture.js';
import { type Slapd, startSlapd } from './slapd.js';

const person = (uid: string, s: string, extra = '') =>
  `dn: uid=${uid},ou=people,${s}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: ${uid}\nmail: ${uid}@ldap.example\n${extra}\n`;

/**
 * The wiring a server does, end to end: configuration from the environment, SCIM above LDAP above YAML, the
 * workflow built on the merged directory, and a person deleted from LDAP losing their active grant.
 */
describe('directory module wired into the workflow', () => {
  let slapd: Slapd;
  let testStore: TestStore;
  let module: DirectoryModule;
  let stint: Stint;
  let app: FastifyInstance;
  let checkpointDir: string;

  beforeAll(async () => {
    slapd = await startSlapd();
    const s = slapd.suffix;
    await slapd.ldif(
      [
        person('lena', s),
        person('pat', s),
        `dn: cn=marketing,ou=groups,${s}\nobjectClass: groupOfNames\ncn: marketing\nmember: uid=lena,ou=people,${s}\nmember: uid=pat,ou=people,${s}\n`,
      ].join('\n'),
    );
    testStore = await createTestStore('sqlite');
    const deployment = `test-${randomBytes(4).toString('hex')}`;
    const text = TEST_POLICY.replace(/deployment: [\w-]+/, `deployment: ${deployment}`);
    const holder = createPolicyHolder(parsePolicy(text, 'p.yaml'), () => parsePolicy(text, 'p.yaml'));
    const config = directoryConfigFromEnv({
      STINT_SCIM_TOKEN: SCIM_TOKEN,
      STINT_LDAP_URL: slapd.url,
      STINT_LDAP_BIND_DN: slapd.rootDN,
      STINT_LDAP_BIND_PASSWORD: slapd.rootPassword,
      STINT_LDAP_USER_BASE: `ou=people,${s}`,
      STINT_LDAP_GROUP_BASE: `ou=groups,${s}`,
    });
    checkpointDir = mkdtempSync(join(tmpdir(), 'stint-checkpoints-'));
    const env = targetEnv();
    stint = createStint({
      store: testStore.store,
      storeId: await readStoreId(testStore.store.db),
      policy: holder,
      directory: { config },
      providerFactory: (r, owner) => createProvider(r, env, { owner: { ...owner, deployment } }),
      secrets: createSecretBox(randomBytes(32)),
      logger: silentLogger,
      audit: {
        signers: [parseSkey(generateNoteKey(`stint-test/${deployment}`).skey)],
        checkpointDir,
        checkpointIntervalMs: 200,
      },
    });
    if (stint.directory === null) throw new Error('directory not configured');
    module = stint.directory;
    await stint.start();
    if (module.scim === null) throw new Error('SCIM not configured');
    app = Fastify();
    await app.register(scimRoutes(module.scim));
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await stint?.stop();
    await testStore?.close();
    await slapd?.destroy();
    if (checkpointDir) rmSync(checkpointDir, { recursive: true, force: true });
  });

  it('serves SCIM over LDAP over YAML, and revokes the grant of someone deleted from LDAP', async () => {
    const users = module.directory.users();
    expect(users.get('lena')).toMatchObject({ email: 'lena@ldap.example', teams: ['marketing'] });
    expect(users.get('alice')?.email).toBe('alice@example.com');
    const created = await app.inject({
      method: 'POST',
      url: '/scim/v2/Users',
      headers: { authorization: `Bearer ${SCIM_TOKEN}`, 'content-type': 'application/scim+json' },
      payload: scimUser('pat'),
    });
    expect(created.statusCode).toBe(201);
    // SCIM describes pat wholly: no LDAP teams leak in.
    expect(module.directory.get('pat')).toMatchObject({ email: 'pat@corp.example', teams: [] });
    expect(module.directory.health()).toMatchObject({ ok: true });

    const actor = { userId: 'lena', security: false, admin: false, auditor: false };
    const asked = await stint.requests.service.create(actor, {
      resource: 'staging-db',
      role: 'read',
      reason: 'debug',
    });
    await settledIn(stint, asked.id);
    const granted = await stint.requests.service.get(actor, asked.id);
    expect(granted.state).toBe('active');

    await slapd.remove(`uid=lena,ou=people,${slapd.suffix}`);
    await module.ldap?.sync();
    for (const job of module.module.jobs ?? []) await job.stop();
    const after = await stint.requests.service.get({ ...actor, userId: 'sam', security: true }, granted.id);
    expect(after).toMatchObject({ state: 'revoked' });
    await expect(
      stint.requests.service.create(actor, { resource: 'staging-db', role: 'read', reason: 'debug' }),
    ).rejects.toMatchObject({ code: 'UNKNOWN_USER' });
  });
});
