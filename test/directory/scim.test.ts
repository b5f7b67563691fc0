import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '../../src/audit/audit-store.js';
import { evaluateRequest } from '../../src/policy/policy-evaluator.js';
import { createTestStore, STORE_KINDS, type TestStore } from '../support/stores.js';
import {
  ENTERPRISE,
  ERROR,
  GROUP,
  PATCH,
  type ScimFixture,
  scimFixture,
  scimUser,
  USER,
} from './scim-fixture.js';

const staging = (requester: string) => ({
  requester,
  resource: 'staging-db',
  role: 'read',
  reason: 'debugging',
});

describe.each(STORE_KINDS)('SCIM 2.0 on %s', (kind) => {
  let testStore: TestStore;
  let f: ScimFixture;

  beforeAll(async () => {
    testStore = await createTestStore(kind);
    f = await scimFixture(testStore.store);
  });
  afterAll(async () => {
    await f?.close();
    await testStore?.close();
  });

  it('describes itself: ServiceProviderConfig, Schemas, ResourceTypes', async () => {
    const spc = await f.call('GET', '/scim/v2/ServiceProviderConfig');
    expect(spc.status).toBe(200);
    expect(spc.type).toMatch(/^application\/scim\+json/);
    expect(spc.body).toMatchObject({
      patch: { supported: true },
      filter: { supported: true },
      bulk: { supported: false },
    });
    const schemas = await f.call('GET', '/scim/v2/Schemas');
    expect(schemas.body.Resources.map((s: { id: string }) => s.id)).toEqual([USER, ENTERPRISE, GROUP]);
    const types = await f.call('GET', '/scim/v2/ResourceTypes');
    expect(types.body.Resources.map((t: { endpoint: string }) => t.endpoint)).toEqual(['/Users', '/Groups']);
    expect((await f.call('GET', `/scim/v2/Schemas/${USER}`)).body.name).toBe('User');
  });

  it('refuses a missing or wrong provisioning token in the SCIM error format', async () => {
    for (const token of ['', 'wrong-token']) {
      const res = await f.call('GET', '/scim/v2/Users', undefined, token);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ schemas: [ERROR], status: '401' });
    }
  });

  it('creates, reads, lists, replaces, patches and deletes users and groups', async () => {
    const lee = await f.call('POST', '/scim/v2/Users', scimUser('lee', { displayName: 'Lee Lead' }));
    expect(lee.status).toBe(201);
    expect(lee.type).toMatch(/^application\/scim\+json/);
    expect(lee.body).toMatchObject({
      userName: 'lee',
      active: true,
      meta: { resourceType: 'User', version: 'W/"1"' },
    });
    const pat = await f.call(
      'POST',
      '/scim/v2/Users',
      scimUser('pat', { schemas: [USER, ENTERPRISE], [ENTERPRISE]: { manager: { value: lee.body.id } } }),
    );
    expect(pat.status).toBe(201);

    const payments = await f.call('POST', '/scim/v2/Groups', {
      schemas: [GROUP],
      displayName: 'payments',
      members: [{ value: pat.body.id }],
    });
    expect(payments.status).toBe(201);
    expect(payments.body.members).toEqual([expect.objectContaining({ value: pat.body.id, display: 'pat' })]);
    const security = await f.call('POST', '/scim/v2/Groups', { schemas: [GROUP], displayName: 'Security' });

    expect((await f.call('GET', `/scim/v2/Users/${pat.body.id}`)).body.groups).toEqual([
      expect.objectContaining({ value: payments.body.id, display: 'payments' }),
    ]);
    const filtered = await f.call('GET', '/scim/v2/Users?filter=userName%20eq%20%22PAT%22');
    expect(filtered.body).toMatchObject({ totalResults: 1, startIndex: 1, itemsPerPage: 1 });
    expect(filtered.body.Resources[0].id).toBe(pat.body.id);
    const page = await f.call('GET', '/scim/v2/Users?startIndex=2&count=1');
    expect(page.body).toMatchObject({ totalResults: 2, startIndex: 2, itemsPerPage: 1 });
    expect(
      (await f.call('GET', '/scim/v2/Groups?filter=displayName%20eq%20%22security%22')).body.totalResults,
    ).toBe(1);

    // PATCH as Entra ID sends it: capitalised op, filter path, a boolean as a string elsewhere.
    const patched = await f.call('PATCH', `/scim/v2/Users/${pat.body.id}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'pat.new@corp.example' },
        { op: 'replace', path: 'displayName', value: 'Pat Payments' },
      ],
    });
    expect(patched.status).toBe(200);
    expect(patched.body.emails[0].value).toBe('pat.new@corp.example');
    expect(patched.body.meta.version).toBe('W/"2"');

    const added = await f.call('PATCH', `/scim/v2/Groups/${security.body.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'add', path: 'members', value: [{ value: lee.body.id }] }],
    });
    expect(added.body.members.map((m: { value: string }) => m.value)).toEqual([lee.body.id]);

    let pUser = f.directory.get('pat');
    expect(pUser).toMatchObject({
      email: 'pat.new@corp.example',
      name: 'Pat Payments',
      manager: 'lee',
      teams: ['payments'],
      security: false,
    });
    expect(f.directory.get('lee')).toMatchObject({ security: true, teams: ['Security'] });
    expect(evaluateRequest(f.policy.current(), staging('pat')).ruleId).toBe('staging');

    const replaced = await f.call(
      'PUT',
      `/scim/v2/Users/${lee.body.id}`,
      scimUser('lee', { displayName: 'Lee L.' }),
    );
    expect(replaced.status).toBe(200);
    expect(f.directory.get('lee')?.name).toBe('Lee L.');

    const removedMember = await f.call('PATCH', `/scim/v2/Groups/${security.body.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'remove', path: `members[value eq "${lee.body.id}"]` }],
    });
    expect(removedMember.body.members).toEqual([]);
    expect(f.directory.get('lee')?.security).toBe(false);

    const renamed = await f.call('PUT', `/scim/v2/Groups/${payments.body.id}`, {
      schemas: [GROUP],
      displayName: 'payments-eu',
      members: [{ value: pat.body.id }, { value: lee.body.id }],
    });
    expect(renamed.body.members).toHaveLength(2);
    pUser = f.directory.get('pat');
    expect(pUser?.teams).toEqual(['payments-eu']);
    expect(() => evaluateRequest(f.policy.current(), staging('pat'))).toThrow(
      expect.objectContaining({ code: 'NOT_ELIGIBLE' }),
    );

    expect((await f.call('DELETE', `/scim/v2/Groups/${payments.body.id}`)).status).toBe(204);
    expect((await f.call('GET', `/scim/v2/Groups/${payments.body.id}`)).body).toMatchObject({
      schemas: [ERROR],
      status: '404',
    });
    expect((await f.call('DELETE', `/scim/v2/Users/${lee.body.id}`)).status).toBe(204);
    expect((await f.call('GET', `/scim/v2/Users/${lee.body.id}`)).status).toBe(404);
    expect(f.directory.get('pat')?.manager).toBeNull();

    const trail = await listAudit(testStore.store.db, { limit: 1000 });
    expect(trail.filter((e) => e.actor === 'scim').map((e) => e.action)).toEqual([
      'directory.user_provisioned',
      'directory.user_provisioned',
      'directory.group_created',
      'directory.group_created',
      'directory.user_updated',
      'directory.group_updated',
      'directory.user_updated',
      'directory.group_updated',
      'directory.group_updated',
      'directory.group_deleted',
      'directory.user_deprovisioned',
    ]);
    expect(trail.find((e) => e.action === 'directory.group_updated')?.details).toMatchObject({
      id: security.body.id,
      displayName: 'Security',
      members: ['lee'],
    });
  });

  it('accepts the PATCH shapes Okta and Entra ID send', async () => {
    const boss = (await f.call('POST', '/scim/v2/Users', scimUser('boss'))).body.id;
    const sid = (await f.call('POST', '/scim/v2/Users', scimUser('vic'))).body.id;
    // Entra ID: the manager as a bare id on the extension path, names as dotted paths.
    const entra = await f.call('PATCH', `/scim/v2/Users/${sid}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'Add', path: `${ENTERPRISE}:manager`, value: boss },
        { op: 'Replace', path: 'name.givenName', value: 'Victoria' },
      ],
    });
    expect(entra.status).toBe(200);
    expect(entra.body[ENTERPRISE]).toEqual({ manager: { value: boss } });
    expect(entra.body.schemas).toEqual([USER, ENTERPRISE]);
    expect(f.directory.get('vic')).toMatchObject({ manager: 'boss', name: 'Victoria Test' });
    // Okta: replace without a path, the value an object of attributes.
    const okta = await f.call('PATCH', `/scim/v2/Users/${sid}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', value: { active: false, displayName: 'Vic' } }],
    });
    expect(okta.body).toMatchObject({ active: false, displayName: 'Vic' });
    expect(f.directory.get('vic')).toBeUndefined();
    const cleared = await f.call('PATCH', `/scim/v2/Users/${sid}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'remove', path: `${ENTERPRISE}:manager` },
        { op: 'replace', path: 'active', value: true },
      ],
    });
    expect(cleared.body[ENTERPRISE]).toEqual({});
    expect(f.directory.get('vic')?.manager).toBeNull();
  });

  it('makes members of the on-call group (by name, any case) on call, and no longer when removed', async () => {
    const oli = (await f.call('POST', '/scim/v2/Users', scimUser('oli'))).body.id;
    expect(f.directory.get('oli')).toMatchObject({ onCall: false });
    const group = await f.call('POST', '/scim/v2/Groups', {
      schemas: [GROUP],
      displayName: 'On-Call',
      members: [{ value: oli }],
    });
    expect(group.status).toBe(201);
    expect(f.directory.get('oli')).toMatchObject({ onCall: true, security: false, teams: ['On-Call'] });
    const removed = await f.call('PATCH', `/scim/v2/Groups/${group.body.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'remove', path: `members[value eq "${oli}"]` }],
    });
    expect(removed.status).toBe(200);
    expect(f.directory.get('oli')).toMatchObject({ onCall: false, teams: [] });
  });

  describe('bad input is a SCIM error and changes nothing', () => {
    let patId: string;
    let groupId: string;
    beforeAll(async () => {
      const existing = await f.call('GET', '/scim/v2/Users?filter=userName%20eq%20%22pat%22');
      patId = existing.body.Resources[0].id;
      groupId = (await f.call('POST', '/scim/v2/Groups', { schemas: [GROUP], displayName: 'ops' })).body.id;
    });

    const cases: [
      string,
      () => [Parameters<ScimFixture['call']>[0], string, unknown],
      number,
      string | undefined,
    ][] = [
      [
        'unknown schema',
        () => ['POST', '/scim/v2/Users', scimUser('x1', { schemas: [USER, 'urn:acme:custom'] })],
        400,
        'invalidSyntax',
      ],
      [
        'undeclared extension',
        () => ['POST', '/scim/v2/Users', scimUser('x2', { 'urn:acme:custom': { a: 1 } })],
        400,
        'invalidSyntax',
      ],
      [
        'no schemas',
        () => ['POST', '/scim/v2/Users', { userName: 'x3', emails: [{ value: 'x3@corp.example' }] }],
        400,
        'invalidSyntax',
      ],
      [
        'missing userName',
        () => ['POST', '/scim/v2/Users', { ...scimUser('x4'), userName: undefined }],
        400,
        'invalidValue',
      ],
      [
        'missing emails',
        () => ['POST', '/scim/v2/Users', { ...scimUser('x5'), emails: [] }],
        400,
        'invalidValue',
      ],
      [
        'an email that is not one',
        () => ['POST', '/scim/v2/Users', scimUser('x6', { emails: [{ value: 'nope' }] })],
        400,
        'invalidValue',
      ],
      ['duplicate userName', () => ['POST', '/scim/v2/Users', scimUser('PAT')], 409, 'uniqueness'],
      ['malformed JSON', () => ['POST', '/scim/v2/Users', '{"schemas":'], 400, 'invalidSyntax'],
      [
        'unsupported filter operator',
        () => ['GET', '/scim/v2/Users?filter=userName%20co%20%22p%22', undefined],
        400,
        'invalidFilter',
      ],
      [
        'garbage filter',
        () => ['GET', '/scim/v2/Users?filter=userName%20eq', undefined],
        400,
        'invalidFilter',
      ],
      [
        'filter on an unsupported attribute',
        () => ['GET', '/scim/v2/Users?filter=title%20eq%20%22x%22', undefined],
        400,
        'invalidFilter',
      ],
      [
        'bad PATCH op',
        () => [
          'PATCH',
          `/scim/v2/Users/${patId}`,
          { schemas: [PATCH], Operations: [{ op: 'move', path: 'active', value: false }] },
        ],
        400,
        'invalidSyntax',
      ],
      [
        'PATCH without the PatchOp schema',
        () => [
          'PATCH',
          `/scim/v2/Users/${patId}`,
          { schemas: [USER], Operations: [{ op: 'replace', path: 'active', value: false }] },
        ],
        400,
        'invalidSyntax',
      ],
      [
        'PATCH remove without a path',
        () => [
          'PATCH',
          `/scim/v2/Users/${patId}`,
          {
            schemas: [PATCH],
            Operations: [{ op: 'replace', path: 'active', value: false }, { op: 'remove' }],
          },
        ],
        400,
        'noTarget',
      ],
      [
        'PATCH with a malformed path',
        () => [
          'PATCH',
          `/scim/v2/Users/${patId}`,
          { schemas: [PATCH], Operations: [{ op: 'replace', path: 'emails[type eq work', value: 'a@b.c' }] },
        ],
        400,
        'invalidPath',
      ],
      [
        'PATCH removing userName',
        () => [
          'PATCH',
          `/scim/v2/Users/${patId}`,
          {
            schemas: [PATCH],
            Operations: [
              { op: 'replace', path: 'active', value: false },
              { op: 'remove', path: 'userName' },
            ],
          },
        ],
        400,
        'invalidValue',
      ],
      [
        'PATCH active to a non-boolean',
        () => [
          'PATCH',
          `/scim/v2/Users/${patId}`,
          { schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: 'maybe' }] },
        ],
        400,
        'invalidValue',
      ],
      [
        'a group member who does not exist',
        () => [
          'PATCH',
          `/scim/v2/Groups/${groupId}`,
          {
            schemas: [PATCH],
            Operations: [{ op: 'add', path: 'members', value: [{ value: 'no-such-user' }] }],
          },
        ],
        400,
        'invalidValue',
      ],
      [
        'a group without displayName',
        () => ['POST', '/scim/v2/Groups', { schemas: [GROUP], members: [] }],
        400,
        'invalidValue',
      ],
      ['an unknown user', () => ['PUT', '/scim/v2/Users/no-such-id', scimUser('x7')], 404, undefined],
    ];

    it.each(cases)('%s', async (_name, request, status, scimType) => {
      const before = await f.dump();
      const [method, url, body] = request();
      const res = await f.call(method, url, body);
      expect(res.status).toBe(status);
      expect(res.type).toMatch(/^application\/scim\+json/);
      expect(res.body).toMatchObject({ schemas: [ERROR], status: String(status) });
      expect(res.body.scimType).toBe(scimType);
      expect(typeof res.body.detail).toBe('string');
      expect(await f.dump()).toEqual(before);
    });
  });

  describe('deprovisioning', () => {
    it('makes a user deleted over SCIM ineligible, and lets the same userName come back', async () => {
      const sid = (await f.call('POST', '/scim/v2/Users', scimUser('quinn'))).body.id;
      await f.call('POST', '/scim/v2/Groups', {
        schemas: [GROUP],
        displayName: 'marketing',
        members: [{ value: sid }],
      });
      expect(evaluateRequest(f.policy.current(), staging('quinn')).ruleId).toBe('staging');

      f.removed.length = 0;
      expect((await f.call('DELETE', `/scim/v2/Users/${sid}`)).status).toBe(204);
      expect(f.removed).toEqual([['quinn']]);
      expect(() => evaluateRequest(f.policy.current(), staging('quinn'))).toThrow(
        expect.objectContaining({ code: 'UNKNOWN_USER' }),
      );
      expect(
        (await f.call('GET', '/scim/v2/Users?filter=userName%20eq%20%22quinn%22')).body.totalResults,
      ).toBe(0);

      const back = await f.call('POST', '/scim/v2/Users', scimUser('quinn'));
      expect(back.status).toBe(201);
      expect(back.body.id).not.toBe(sid);
      expect(f.directory.get('quinn')).toBeDefined();
    });

    it('makes a user set active:false (as Entra ID sends it) ineligible', async () => {
      const sid = (await f.call('POST', '/scim/v2/Users', scimUser('rae'))).body.id;
      await f.call('POST', '/scim/v2/Groups', {
        schemas: [GROUP],
        displayName: 'rae-team',
        members: [{ value: sid }],
      });
      const res = await f.call('PATCH', `/scim/v2/Users/${sid}`, {
        schemas: [PATCH],
        Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
      });
      expect(res.body.active).toBe(false);
      expect(f.directory.get('rae')).toBeUndefined();
      expect(() => evaluateRequest(f.policy.current(), staging('rae'))).toThrow(
        expect.objectContaining({ code: 'UNKNOWN_USER' }),
      );
    });

    it('keeps a person removed by the IdP out even when the YAML directory still lists them', async () => {
      expect(evaluateRequest(f.policy.current(), staging('mallory')).ruleId).toBe('staging');
      const sid = (await f.call('POST', '/scim/v2/Users', scimUser('mallory'))).body.id;
      expect(f.directory.get('mallory')?.email).toBe('mallory@corp.example');
      await f.call('DELETE', `/scim/v2/Users/${sid}`);
      expect(() => evaluateRequest(f.policy.current(), staging('mallory'))).toThrow(
        expect.objectContaining({ code: 'UNKNOWN_USER' }),
      );
    });
  });
});
