import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeKind } from '../providers/fake-kind.js';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness } from '../support/harness.js';
import { waitFor } from '../support/pg-client.js';
import { STORE_KINDS } from '../support/stores.js';
import { TEST_POLICY } from '../support/test-policy.js';

/**
 * Jobs act on what a kind declares, not on what a database could do. The fake kind (registered from test code)
 * is expire-only and cannot list what it issued, as SSH certificates and cloud session tokens.
 */
const POLICY = TEST_POLICY.replace(
  '\nrules:\n',
  `
  - id: certs
    kind: fake
    sensitivity: routine
    connection: { env: STINT_FAKE_TARGET }
    roles:
      read: { grants: [fake_read] }
rules:
  - id: certs
    resources: [certs]
    roles: [read]
    who: { teams: [payments] }
    duration: { min: 1s, default: 30m, max: 2h }
    approval: [auto]
`,
);

describe.each(STORE_KINDS)('declared capabilities on %s', (store) => {
  const dir = mkdtempSync(join(tmpdir(), 'stint-kind-caps-'));
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness(store, {
      policy: POLICY,
      kinds: [fakeKind],
      env: { STINT_FAKE_TARGET: `fake:${join(dir, 'target.db')}?key=caps-key` },
    });
  });
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const activeCert = async () => (await activeGrant(h, { resource: 'certs', role: 'read', reason: 'x' })).id;

  it('a kind that cannot list is not reconciled: its live grants are never marked vanished', async () => {
    const id = await activeCert();
    const reports = await h.stint.grants.reconcile();
    expect(reports.find((r) => r.resource === 'certs')).toMatchObject({
      error: null,
      vanished: [],
      skipped: expect.stringMatching(/cannot list/),
    });
    expect((await h.as('alice').get(`/v1/requests/${id}`)).body.state).toBe('active');
  });

  it('revoking an expire-only credential waits for its end: deferred and audited once, not failed nor retried', async () => {
    const id = await activeCert();
    const revoked = await h.as('sam').post(`/v1/requests/${id}/revoke`, { comment: 'done' });
    expect(revoked.body.state).toBe('revoked');
    const events = await waitFor(async () => {
      const e = (await h.as('erin').get(`/v1/audit/events?request=${id}`)).body.events as {
        action: string;
        details: Record<string, unknown>;
      }[];
      return e.some((x) => x.action === 'grant.revocation_deferred') ? e : null;
    });
    const request = (await h.as('alice').get(`/v1/requests/${id}`)).body;
    expect(events.find((e) => e.action === 'grant.revocation_deferred')?.details).toMatchObject({
      resource: 'certs',
      until: request.expiresAt,
      cutoff: fakeKind.capabilities.cutoff,
    });
    expect(events.map((e) => e.action)).not.toContain('grant.revocation_failed');
    // The sweeper (every 200 ms) does not retry it before its end.
    await new Promise((r) => setTimeout(r, 800));
    const grant = await h.testStore.store.db
      .selectFrom('grants')
      .select(['revocation', 'revoke_attempts', 'revoke_error', 'next_revoke_at'])
      .where('request_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(grant).toMatchObject({ revocation: 'pending', revoke_attempts: 0, revoke_error: null });
    expect(Number(grant.next_revoke_at)).toBe(new Date(request.expiresAt as string).getTime());
    const after = (await h.as('erin').get(`/v1/audit/events?request=${id}`)).body.events as {
      action: string;
    }[];
    expect(after.filter((e) => e.action === 'grant.revocation_deferred')).toHaveLength(1);
  });
});
