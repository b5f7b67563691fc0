import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignInSession } from '../../src/app/session-admin.js';
import type { AuditEventBody } from '../../src/audit/audit-event.js';
import { createScimService } from '../../src/directory/scim-service.js';
import { loadIdentityConfig } from '../../src/identity/identity-config.js';
import { TOTP_PERIOD_SECONDS } from '../../src/mfa/totp.js';
import { SCIM_TOKEN, scimUser } from '../directory/scim-fixture.js';
import { createHarness, type Harness } from '../support/harness.js';
import { STORE_KINDS } from '../support/stores.js';
import { TEST_POLICY } from '../support/test-policy.js';

/**
 * Issue 20: `stint admin session create` let the host operator act as anyone, with no trace. Each session made on
 * the host is now announced in the audit trail (who made it, on which host, for whom; the person under
 * `notify`) before it acts, every event it causes says it was host-made, STINT_HOST_SESSIONS limits it (to
 * enrolling a first factor by default) or turns it off, and ids the directory does not know are refused.
 */
describe.each(STORE_KINDS)('sessions made on the server host (%s)', (kind) => {
  let full: Harness;
  let limited: Harness;
  let off: Harness;
  const policyPath = join(mkdtempSync(join(tmpdir(), 'stint-policy-')), 'stint.yaml');
  writeFileSync(policyPath, TEST_POLICY);

  beforeAll(async () => {
    const harness = (mode?: string) =>
      createHarness(kind, {
        stepUp: false,
        ...(mode ? { identity: { config: loadIdentityConfig({ STINT_HOST_SESSIONS: mode }) } } : {}),
      });
    [full, limited, off] = await Promise.all([harness('full'), harness(), harness('off')]);
  });
  afterAll(async () => {
    await Promise.all([full?.close(), limited?.close(), off?.close()]);
  });

  const hostSession = (h: Harness, userId: string) =>
    createSignInSession({ userId, databaseUrl: h.testStore.url, policyPath });

  const call = async (h: Harness, bearer: string, method: 'GET' | 'POST', url: string, body?: object) => {
    const res = await h.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${bearer}` },
      ...(body === undefined ? {} : { payload: body }),
    });
    return { status: res.statusCode, body: res.body ? res.json() : null };
  };

  /**
   * Codes for two consecutive time-steps, taken once: the first confirms, the second steps up. Whichever of the
   * two steps is current when each is checked, both are within the one-step tolerance, and the second is newer.
   */
  async function twoCodes(secret: string): Promise<[string, string]> {
    const step = Math.floor(Date.now() / 1000 / TOTP_PERIOD_SECONDS);
    const at = (s: number) =>
      generate({ secret, epoch: s * TOTP_PERIOD_SECONDS, period: TOTP_PERIOD_SECONDS });
    return [await at(step), await at(step + 1)];
  }

  const bodies = async (h: Harness): Promise<AuditEventBody[]> =>
    (await h.testStore.store.db.selectFrom('audit_events').select('body').orderBy('seq').execute()).map(
      (r) => JSON.parse(r.body ?? 'null') as AuditEventBody,
    );

  const sessionRows = async (h: Harness) =>
    h.testStore.store.db.selectFrom('sessions').select(['id', 'user_id', 'host_made_by']).execute();

  it('the attack as written (enrol, step up, approve critical access): every event of it says host-made, after one naming who made it where', async () => {
    const request = await full
      .as('alice')
      .postSettled('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-20' });
    expect(request.status, JSON.stringify(request.body)).toBe(201);
    const id = request.body.id as string;
    const before = (await bodies(full)).length;

    const made = await hostSession(full, 'carol');
    const enrolled = await call(full, made.token, 'POST', '/v1/mfa/totp/enroll');
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(201);
    const [confirm, verify] = await twoCodes(enrolled.body.secret);
    expect((await call(full, made.token, 'POST', '/v1/mfa/totp/confirm', { code: confirm })).status).toBe(
      200,
    );
    const stepped = await call(full, made.token, 'POST', '/v1/mfa/verify', { method: 'totp', code: verify });
    expect(stepped.status, JSON.stringify(stepped.body)).toBe(200);
    const approved = await call(full, made.token, 'POST', `/v1/requests/${id}/approve`, {});
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    await full.settled(id);
    await full.as('alice').post(`/v1/requests/${id}/revoke`, {});
    // A token minted with the session carries its mark: the session's power is not laundered through it.
    const minted = await call(full, made.token, 'POST', '/v1/tokens', {
      name: 'laundered',
      scopes: ['approvals:write'],
      expiresInDays: 1,
    });
    expect(minted.status, JSON.stringify(minted.body)).toBe(201);
    const second = await full
      .as('alice')
      .postSettled('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-22' });
    const denied = await call(full, minted.body.token, 'POST', `/v1/requests/${second.body.id}/deny`, {
      comment: 'no',
    });
    expect(denied.status, JSON.stringify(denied.body)).toBe(200);

    const trail = (await bodies(full)).slice(before);
    const [announced, ...rest] = trail;
    // Made by whoever ran the command on this host, for carol, who is to be told; before anything it did.
    expect(announced).toMatchObject({
      action: 'session.host-created',
      target: { principal: 'carol' },
      source: { via: 'host-session', hostSession: made.id },
      details: { user: 'carol', session: made.id, host: hostname(), mode: 'full', notify: ['carol'] },
    });
    expect(announced?.actor).toBe(`host:${announced?.details.by}@${hostname()}`);
    expect(String(announced?.details.by)).not.toBe('');
    // Everything carol's name is on from here was done with the host-made session, and says so.
    const asCarol = rest.filter((e) => e.actor === 'carol');
    expect(asCarol.map((e) => e.action)).toEqual(
      expect.arrayContaining(['mfa.enrolled', 'mfa.verified', 'request.approved', 'request.denied']),
    );
    for (const e of asCarol) {
      expect(e.source, e.action).toMatchObject({ via: 'host-session', hostSession: made.id });
    }
    // Announced once, not at every use.
    expect(trail.filter((e) => e.action === 'session.host-created')).toHaveLength(1);
    // In the shape docs/audit.md documents for SIEMs (and notifiers).
    const doc = readFileSync(new URL('../../docs/audit.md', import.meta.url), 'utf8');
    const ajv = new Ajv2020({ allErrors: true, validateFormats: false });
    const validate = ajv.compile(
      JSON.parse(/```json\n(\{\n {2}"\$schema"[\s\S]*?)```/.exec(doc)?.[1] ?? 'null'),
    );
    for (const e of trail) expect(validate(e), `${e.action}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    expect(validate({ ...announced, details: { user: 'carol' } })).toBe(false);
  });

  it('is announced exactly once however many first requests race', async () => {
    const made = await hostSession(full, 'bob');
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => call(full, made.token, 'GET', '/v1/whoami')),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(200));
    const announced = (await bodies(full)).filter(
      (e) => e.action === 'session.host-created' && e.details.session === made.id,
    );
    expect(announced).toHaveLength(1);
  });

  it('refuses an id the directory does not know, and writes nothing', async () => {
    const before = await sessionRows(full);
    await expect(hostSession(full, 'nobody')).rejects.toMatchObject({ code: 'UNKNOWN_USER' });
    // Without a policy there is no directory to ask: refused too, never let through.
    await expect(
      createSignInSession({ userId: 'carol', databaseUrl: full.testStore.url, dataDir: tmpdir() }),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    expect(await sessionRows(full)).toEqual(before);
  });

  it('asks the directory the server would: someone provisioned by SCIM only is known once provisioned', async () => {
    const saved = process.env.STINT_SCIM_TOKEN;
    process.env.STINT_SCIM_TOKEN = SCIM_TOKEN;
    try {
      await expect(hostSession(full, 'zoe')).rejects.toMatchObject({ code: 'UNKNOWN_USER' });
      const scim = createScimService({
        store: full.testStore.store,
        audit: full.stint.audit.writer,
        clock: () => new Date(),
        onChange: async () => {},
      });
      await scim.createUser(scimUser('zoe'));
      const made = await hostSession(full, 'zoe');
      expect(made.token).toMatch(/^stints_/);
    } finally {
      if (saved === undefined) delete process.env.STINT_SCIM_TOKEN;
      else process.env.STINT_SCIM_TOKEN = saved;
    }
    const rows = await sessionRows(full);
    expect(rows.filter((r) => r.user_id === 'zoe')).toHaveLength(1);
  });

  it('by default (first-factor) it only enrols a first factor: no step-up, no approval, no request, no tokens', async () => {
    const request = await limited
      .as('alice')
      .postSettled('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-21' });
    const id = request.body.id as string;
    const made = await hostSession(limited, 'carol');
    expect((await call(limited, made.token, 'GET', '/v1/whoami')).status).toBe(200);
    const enrolled = await call(limited, made.token, 'POST', '/v1/mfa/totp/enroll');
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(201);
    const [confirm, verify] = await twoCodes(enrolled.body.secret);
    expect((await call(limited, made.token, 'POST', '/v1/mfa/totp/confirm', { code: confirm })).status).toBe(
      200,
    );

    const refused = [
      await call(limited, made.token, 'POST', '/v1/mfa/verify', { method: 'totp', code: verify }),
      await call(limited, made.token, 'POST', `/v1/requests/${id}/approve`, {}),
      await call(limited, made.token, 'POST', '/v1/requests', { resource: 'staging-db', role: 'read' }),
      await call(limited, made.token, 'POST', '/v1/tokens', { name: 'mine' }),
      await call(limited, made.token, 'GET', '/v1/requests'),
    ];
    expect(refused.map((r) => [r.status, r.body.error.code])).toEqual(
      Array(refused.length).fill([403, 'HOST_SESSION_LIMITED']),
    );
    expect((await limited.as('alice').get(`/v1/requests/${id}`)).body.state).toBe('pending');

    // carol now has a factor: a second host-made session cannot replace hers.
    const again = await hostSession(limited, 'carol');
    const replaced = await call(limited, again.token, 'POST', '/v1/mfa/totp/enroll');
    expect([replaced.status, replaced.body.error.code]).toEqual([409, 'MFA_ALREADY_ENROLLED']);
    // bob has a security key: a host-made session cannot add a TOTP beside it.
    await limited.testStore.store.db
      .insertInto('webauthn_credentials')
      .values({
        id: 'bobs-key',
        user_id: 'bob',
        public_key: 'AA',
        counter: 0,
        transports: '[]',
        created_at: Date.now(),
        last_used_at: null,
      })
      .execute();
    const bobs = await hostSession(limited, 'bob');
    const added = await call(limited, bobs.token, 'POST', '/v1/mfa/totp/enroll');
    expect([added.status, added.body.error.code]).toEqual([403, 'HOST_SESSION_LIMITED']);
    const rows = await limited.testStore.store.db
      .selectFrom('mfa_totp')
      .select('user_id')
      .where('user_id', '=', 'carol')
      .execute();
    expect(rows).toHaveLength(1);
    const bobsTotp = await limited.testStore.store.db
      .selectFrom('mfa_totp')
      .select('user_id')
      .where('user_id', '=', 'bob')
      .execute();
    expect(bobsTotp).toEqual([]);
  });

  it('off: the command refuses and writes nothing; a server with it off refuses a host-made session, announced all the same', async () => {
    const before = await sessionRows(off);
    const saved = process.env.STINT_HOST_SESSIONS;
    process.env.STINT_HOST_SESSIONS = 'off';
    try {
      await expect(hostSession(off, 'carol')).rejects.toMatchObject({ code: 'HOST_SESSIONS_OFF' });
      process.env.STINT_HOST_SESSIONS = 'sometimes';
      await expect(hostSession(off, 'carol')).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining('STINT_HOST_SESSIONS'),
      });
    } finally {
      if (saved === undefined) delete process.env.STINT_HOST_SESSIONS;
      else process.env.STINT_HOST_SESSIONS = saved;
    }
    expect(await sessionRows(off)).toEqual(before);

    // Made where the command's environment allowed it, presented to a server where it is off.
    const made = await hostSession(off, 'carol');
    const res = await call(off, made.token, 'GET', '/v1/whoami');
    expect([res.status, res.body.error.code]).toEqual([403, 'HOST_SESSIONS_OFF']);
    const announced = (await bodies(off)).filter((e) => e.action === 'session.host-created');
    expect(announced.map((e) => e.details.session)).toEqual([made.id]);
  });

  it('a server refuses a bad STINT_HOST_SESSIONS at boot, naming it', () => {
    expect(() => loadIdentityConfig({ STINT_HOST_SESSIONS: 'on' })).toThrow(/STINT_HOST_SESSIONS/);
    expect(loadIdentityConfig({}).hostSessions).toBe('first-factor');
  });
});
