import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVAL_BUCKETS_SECONDS, tierLabel } from '../../src/requests/request-metrics.js';
import { activeGrant } from '../support/active-grant.js';
import { createHarness, type Harness } from '../support/harness.js';
import { waitFor } from '../support/pg-client.js';
import { STORE_KINDS } from '../support/stores.js';
import { type Family, parseExposition, sampleValue } from './prom-text.js';

const MIN = 60_000;

/** Requests a person approved at known delays (minutes), seeded straight into the store: a hand-checkable histogram. */
const SEEDED_MINUTES = [4, 10, 20];

async function seedApproved(h: Harness): Promise<void> {
  const base = Date.parse('2026-08-03T09:00:00Z');
  for (const [i, minutes] of SEEDED_MINUTES.entries()) {
    const created = base + i * 3_600_000;
    await h.stint.deps.store.db
      .insertInto('requests')
      .values({
        id: `req_5eed00000000000${i}`,
        requester: 'alice',
        resource: 'prod-db',
        role: 'read',
        reason: `CHG-${i}`,
        duration_seconds: 3600,
        state: 'expired',
        policy_version: 'seeded',
        rule_id: 'prod-db-read',
        tiers: '["peer"]',
        slots: JSON.stringify([{ tier: 'peer', label: 'peer', eligible: ['bob'] }]),
        created_at: created,
        pending_until: created + 86_400_000,
        approved_at: created + minutes * MIN,
        activated_at: created + minutes * MIN,
        expires_at: created + minutes * MIN + 3_600_000,
        ended_at: created + minutes * MIN + 3_600_000,
        ended_by: 'stint',
        end_reason: null,
        version: 4,
        issue_claimed_until: null,
      })
      .execute();
  }
}

async function scrape(url: string, token: string | null) {
  return fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
}

describe.each(STORE_KINDS)('GET /metrics on a running server (%s store)', (kind) => {
  let h: Harness;
  let url: string;
  let scopedToken: string;
  let families: Map<string, Family>;
  let sizeBefore: number;
  let sizeAfter: number;

  const auditSize = async () =>
    Number(
      (await h.stint.deps.store.db.selectFrom('audit_head').select('size').executeTakeFirstOrThrow()).size,
    );

  beforeAll(async () => {
    h = await createHarness(kind);
    // Through the API: a manager-approved grant, two auto-approved ones, a denial, one left pending, one revoked.
    await activeGrant(h, { resource: 'prod-db', role: 'admin', reason: 'INC-7', approvers: ['carol'] });
    await activeGrant(h, { resource: 'staging-db', role: 'read' });
    await activeGrant(h, { resource: 'staging-db', role: 'read', requester: 'mallory' });
    const denied = await h
      .as('alice')
      .post('/v1/requests', { resource: 'prod-db', role: 'admin', reason: 'INC-8' });
    expect((await h.as('carol').post(`/v1/requests/${denied.body.id}/deny`, { comment: 'no' })).status).toBe(
      200,
    );
    await h.as('bob').post('/v1/requests', { resource: 'prod-db', role: 'read', reason: 'look' });
    const revoked = await activeGrant(h, { resource: 'staging-db', role: 'read', requester: 'bob' });
    expect((await h.as('bob').post(`/v1/requests/${revoked.id}/revoke`, {})).status).toBe(200);
    await waitFor(async () => {
      const g = await h.stint.deps.grants.get(h.stint.deps.store.db, revoked.id);
      return g?.revocation === 'done' ? g : null;
    }, 20_000);
    await seedApproved(h);
    await h.stint.audit.log.build({ checkpoint: true });
    url = await h.app.listen({ port: 0, host: '127.0.0.1' });
    scopedToken = (
      await h.stint.identity.tokens.create(
        'erin',
        'prometheus',
        new Date(),
        new Date(Date.now() + 86_400_000),
        ['metrics:read'],
      )
    ).token;
    sizeBefore = await auditSize();
    const res = await scrape(url, scopedToken);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    families = parseExposition(await res.text());
    sizeAfter = await auditSize();
  }, 180_000);
  afterAll(async () => {
    await h?.close();
  });

  it('parses strictly, every family typed and documented', () => {
    expect(families.size).toBeGreaterThan(20);
    for (const f of families.values()) {
      expect(f.type, f.name).not.toBe('untyped');
      expect(f.help, f.name).toBeTruthy();
    }
  });

  it('requests by resource, tier and outcome are the store’s rows, counted by hand', async () => {
    const rows = await h.stint.deps.store.db.selectFrom('requests').selectAll().execute();
    const count = (keep: (r: (typeof rows)[number]) => boolean) => rows.filter(keep).length;
    const made = new Map<string, number>();
    for (const r of rows) {
      const key = `${r.resource}|${tierLabel(r.tiers)}`;
      made.set(key, (made.get(key) ?? 0) + 1);
    }
    const exported = families.get('stint_requests_total')?.samples ?? [];
    expect(exported).toHaveLength(made.size);
    for (const s of exported) expect(s.value).toBe(made.get(`${s.labels.resource}|${s.labels.tier}`));
    // The ones this test made, by name: prod-db manager (approved + denied), staging-db auto (3).
    expect(sampleValue(families, 'stint_requests_total', { resource: 'staging-db', tier: 'auto' })).toBe(3);
    expect(sampleValue(families, 'stint_requests_total', { resource: 'prod-db', tier: 'manager' })).toBe(2);
    expect(sampleValue(families, 'stint_requests_total', { resource: 'prod-db', tier: 'peer' })).toBe(4);
    expect(
      sampleValue(families, 'stint_requests_ended_total', {
        resource: 'prod-db',
        tier: 'manager',
        outcome: 'denied',
      }),
    ).toBe(1);
    expect(
      sampleValue(families, 'stint_requests_ended_total', {
        resource: 'staging-db',
        tier: 'auto',
        outcome: 'revoked',
      }),
    ).toBe(1);
    expect(
      sampleValue(families, 'stint_requests_open', { resource: 'prod-db', tier: 'peer', state: 'pending' }),
    ).toBe(count((r) => r.state === 'pending' && r.resource === 'prod-db'));
    expect(sampleValue(families, 'stint_grants_active', { resource: 'staging-db' })).toBe(2);
    expect(sampleValue(families, 'stint_grants_active', { resource: 'prod-db' })).toBe(1);
  });

  it('the approval-time histogram counts what a person approved, in the right buckets', async () => {
    const rows = await h.stint.deps.store.db
      .selectFrom('requests')
      .select(['tiers', 'slots', 'created_at', 'approved_at'])
      .execute();
    const waited = rows
      .filter((r) => r.approved_at !== null && r.slots !== '[]' && tierLabel(r.tiers) === 'peer')
      .map((r) => (Number(r.approved_at) - Number(r.created_at)) / 1000);
    expect(waited.sort((a, b) => a - b)).toEqual(SEEDED_MINUTES.map((m) => m * 60));
    const bucket = (le: number) =>
      sampleValue(
        families,
        'stint_requests_approval_seconds_bucket',
        { tier: 'peer', le: String(le) },
        'stint_requests_approval_seconds',
      );
    // 4, 10 and 20 minutes: one under 5 min, two under 10 (600 s is a bound), all three under 30.
    expect(bucket(300)).toBe(1);
    expect(bucket(600)).toBe(2);
    expect(bucket(900)).toBe(2);
    expect(bucket(1800)).toBe(3);
    expect(
      sampleValue(
        families,
        'stint_requests_approval_seconds_sum',
        { tier: 'peer' },
        'stint_requests_approval_seconds',
      ),
    ).toBe(34 * 60);
    // The manager-approved one; the three auto-approved never waited for anyone and are not in it.
    expect(
      sampleValue(
        families,
        'stint_requests_approval_seconds_count',
        { tier: 'manager' },
        'stint_requests_approval_seconds',
      ),
    ).toBe(1);
    expect(
      sampleValue(
        families,
        'stint_requests_approval_seconds_count',
        { tier: 'auto' },
        'stint_requests_approval_seconds',
      ),
    ).toBeUndefined();
    expect(APPROVAL_BUCKETS_SECONDS).toContain(300);
  });

  it('revocations and their lag match the grants table', async () => {
    const grants = await h.stint.deps.store.db.selectFrom('grants').selectAll().execute();
    const done = grants.filter((g) => g.revocation === 'done');
    expect(done).toHaveLength(1);
    expect(
      sampleValue(families, 'stint_grants_revocations_completed_total', { resource: 'staging-db' }),
    ).toBe(1);
    expect(
      sampleValue(
        families,
        'stint_grants_revocation_lag_seconds_count',
        {},
        'stint_grants_revocation_lag_seconds',
      ),
    ).toBe(1);
    const ended = await h.stint.deps.requests.get(h.stint.deps.store.db, done[0]?.request_id as string);
    const lag = (Number(done[0]?.revoked_at) - (ended?.endedAt?.getTime() ?? 0)) / 1000;
    expect(
      sampleValue(
        families,
        'stint_grants_revocation_lag_seconds_sum',
        {},
        'stint_grants_revocation_lag_seconds',
      ),
    ).toBeCloseTo(lag, 6);
    expect(sampleValue(families, 'stint_grants_revocation_failures_total', { resource: 'staging-db' })).toBe(
      0,
    );
    expect(families.get('stint_grants_revocations_abandoned')?.samples ?? []).toEqual([]);
  });

  it('provider calls per kind are the wrapper’s figures; audit and sweeps are there', () => {
    const stats = h.stint.deps.providers.metrics();
    const issue = stats.find((s) => s.kind === 'postgres' && s.method === 'issue');
    expect(issue?.calls).toBe(4);
    expect(sampleValue(families, 'stint_provider_calls_total', { kind: 'postgres', method: 'issue' })).toBe(
      issue?.calls,
    );
    expect(
      sampleValue(families, 'stint_provider_call_duration_seconds_total', {
        kind: 'postgres',
        method: 'issue',
      }),
    ).toBeCloseTo((issue?.totalMs ?? 0) / 1000, 6);
    const events = sampleValue(families, 'stint_audit_events_total') as number;
    expect(events).toBeGreaterThanOrEqual(sizeBefore);
    expect(events).toBeLessThanOrEqual(sizeAfter);
    expect(sampleValue(families, 'stint_audit_trail_healthy')).toBe(1);
    expect(sampleValue(families, 'stint_audit_checkpoint_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(
      sampleValue(
        families,
        'stint_sweep_duration_seconds_count',
        { sweep: 'grants.due' },
        'stint_sweep_duration_seconds',
      ),
    ).toBeGreaterThan(0);
    expect(sampleValue(families, 'stint_grants_revocations_overdue_total')).toBe(0);
  });

  it('a scrape without the scope or the role is refused before anything is collected', async () => {
    const served = h.stint.metrics.exporter.scrapes();
    const noScope = (
      await h.stint.identity.tokens.create('erin', 'wrong', new Date(), new Date(Date.now() + 86_400_000), [
        'audit:read',
      ])
    ).token;
    const refusals = [
      [null, 401],
      ['not-a-token', 401],
      [noScope, 403],
      [h.tokens.alice as string, 403],
      [
        (
          await h.stint.identity.tokens.create('alice', 'p', new Date(), new Date(Date.now() + 86_400_000), [
            'metrics:read',
          ])
        ).token,
        403,
      ],
    ] as const;
    for (const [token, status] of refusals) {
      const res = await scrape(url, token);
      expect(res.status).toBe(status);
      expect(((await res.json()) as { error: { code: string } }).error.code).toMatch(
        /UNAUTHENTICATED|FORBIDDEN/,
      );
    }
    expect(h.stint.metrics.exporter.scrapes()).toBe(served);
    for (const who of ['sam', 'root', 'erin'])
      expect((await scrape(url, h.tokens[who] as string)).status).toBe(200);
    expect(h.stint.metrics.exporter.scrapes()).toBe(served + 3);
  });
});
