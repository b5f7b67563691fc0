import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RequestView } from '../../src/requests/request-types.js';
import { type FakeStint, requestView, run, startFakeStint } from './support.js';

const TOKEN = 'stint_tok.secret-value-never-printed';

let stint: FakeStint;
const cli = (...argv: string[]) => run(['--url', stint.url, '--token', TOKEN, ...argv]);

beforeAll(async () => {
  stint = await startFakeStint({});
});
afterAll(() => stint.close());
beforeEach(() => {
  stint.received.length = 0;
  for (const key of Object.keys(stint.routes)) delete stint.routes[key];
});

describe('stint request', () => {
  it('sends the request as JSON with the bearer token and says who must approve', async () => {
    stint.routes['POST /v1/requests'] = { status: 201, body: requestView() };

    const r = await cli('request', 'prod-db', '--role', 'admin', '--reason', 'INC-42', '--for', '2h');

    expect(r.code).toBe(0);
    expect(stint.received).toHaveLength(1);
    const sent = stint.received[0];
    expect(sent?.method).toBe('POST');
    expect(sent?.path).toBe('/v1/requests');
    expect(sent?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(sent?.headers['content-type']).toBe('application/json');
    expect(sent?.body).toEqual({ resource: 'prod-db', role: 'admin', reason: 'INC-42', duration: '2h' });
    expect(r.stdout).toContain('request req_0123456789abcdef for prod-db/admin: pending');
    expect(r.stdout).toContain('needs: manager approval — carol');
    expect(r.stdout).not.toContain('approved automatically');
    expect(r.stderr).toBe('');
  });

  it('leaves the duration out when --for is not given', async () => {
    stint.routes['POST /v1/requests'] = { status: 201, body: requestView() };
    await cli('request', 'prod-db', '--role', 'admin', '--reason', 'INC-42');
    expect(stint.received[0]?.body).toEqual({ resource: 'prod-db', role: 'admin', reason: 'INC-42' });
  });

  it('lists every missing approval with its eligible people', async () => {
    stint.routes['POST /v1/requests'] = {
      status: 201,
      body: requestView({
        tiers: ['manager', 'two-person'],
        waitingFor: [
          { tier: 'manager', label: 'manager', eligible: ['carol'] },
          { tier: 'two-person', label: 'security reviewer', eligible: ['dave', 'sam'] },
        ],
      }),
    };
    const r = await cli('request', 'payments-db', '--role', 'admin', '--reason', 'INC-1');
    expect(r.stdout).toContain(
      'needs: manager approval — carol\nneeds: security reviewer approval — dave, sam\n',
    );
  });

  it('says when the request was approved automatically', async () => {
    const auto: Partial<RequestView> = {
      resource: 'staging-db',
      role: 'read',
      tiers: ['auto'],
      waitingFor: [],
      approvedAt: '2025-06-01T11:55:00Z',
    };
    stint.routes['POST /v1/requests'] = { status: 201, body: requestView({ ...auto, state: 'approved' }) };
    // Issuance runs after the answer: the CLI waits for it by reading the request again.
    stint.routes['GET /v1/requests/req_0123456789abcdef'] = {
      status: 200,
      body: requestView({ ...auto, state: 'active' }),
    };
    const r = await cli('request', 'staging-db', '--role', 'read', '--reason', 'look');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('approved automatically');
    expect(r.stdout).not.toContain('needs:');
    expect(r.stdout).toContain('next: stint credentials req_0123456789abcdef');
    expect(r.stdout).toContain(': active');
  });

  it('with --no-wait, answers with the approval and says issuance is under way', async () => {
    stint.routes['POST /v1/requests'] = {
      status: 201,
      body: requestView({
        state: 'approved',
        tiers: ['auto'],
        waitingFor: [],
        approvedAt: '2025-06-01T11:55:00Z',
      }),
    };
    const r = await cli('request', 'staging-db', '--role', 'read', '--reason', 'look', '--no-wait');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(': approved');
    expect(r.stdout).toContain('issuing the credential; see: stint show req_0123456789abcdef');
    expect(stint.received.some((q) => q.method === 'GET')).toBe(false);
  });

  it('refuses a bad --for before sending anything', async () => {
    const r = await cli('request', 'prod-db', '--role', 'admin', '--reason', 'INC-42', '--for', '2 hours');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error \[INVALID_DURATION\]: --for: "2 hours" is not a duration/);
    expect(r.stdout).toBe('');
    expect(stint.received).toHaveLength(0);
  });

  it('refuses a zero --for before sending anything', async () => {
    const r = await cli('request', 'prod-db', '--role', 'admin', '--reason', 'INC-42', '--for', '0m');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error [INVALID_DURATION]');
    expect(stint.received).toHaveLength(0);
  });

  it('needs --role and --reason (usage error, nothing sent)', async () => {
    const r = await cli('request', 'prod-db', '--reason', 'INC-42');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("required option '--role <role>' not specified");
    expect(stint.received).toHaveLength(0);
  });

  it('prints the server error code and message on stderr and exits 1', async () => {
    stint.routes['POST /v1/requests'] = {
      status: 400,
      body: { error: { code: 'TICKET_MALFORMED', message: 'reason must look like INC-123 or CHG-123' } },
    };
    const r = await cli('request', 'prod-db', '--role', 'admin', '--reason', 'because');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('error [TICKET_MALFORMED]: reason must look like INC-123 or CHG-123\n');
  });

  it('prints --json as the raw API body', async () => {
    const view = requestView();
    stint.routes['POST /v1/requests'] = { status: 201, body: view };
    const r = await cli('request', 'prod-db', '--role', 'admin', '--reason', 'INC-42', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(view);
  });
});

describe('stint requests', () => {
  const list = [
    requestView(),
    requestView({
      id: 'req_fedcba9876543210',
      requester: 'bob',
      resource: 'staging-db',
      role: 'read',
      state: 'active',
      reason: 'looking at a slow query',
      expiresAt: '2025-06-01T13:59:00Z',
    }),
  ];

  it('asks for my requests by default and prints a table', async () => {
    stint.routes['GET /v1/requests'] = { body: { requests: list } };
    const r = await cli('requests');
    expect(r.code).toBe(0);
    expect(stint.received[0]?.query).toEqual({ scope: 'mine' });
    const lines = r.stdout.split('\n');
    const header = lines.find((l) => l.includes('requester'));
    for (const col of ['id', 'requester', 'resource/role', 'state', 'reason', 'created', 'expires']) {
      expect(header).toContain(col);
    }
    const bobRow = lines.find((l) => l.includes('req_fedcba9876543210'));
    expect(bobRow).toMatch(/bob.*staging-db\/read.*active.*looking at a slow query/);
    expect(bobRow).toContain('(5m ago)');
    expect(bobRow).toContain('(in 1h59m)');
    expect(lines.find((l) => l.includes('req_0123456789abcdef'))).toMatch(/alice.*prod-db\/admin.*pending/);
  });

  it('passes scope, state and limit as query parameters', async () => {
    stint.routes['GET /v1/requests'] = { body: { requests: [] } };
    const r = await cli('requests', '--to-approve', '--state', 'pending', '--limit', '5');
    expect(r.code).toBe(0);
    expect(stint.received[0]?.query).toEqual({ scope: 'to-approve', state: 'pending', limit: '5' });
    expect(r.stdout).toBe('nothing waiting for your approval\n');
  });

  it('accepts --json after the subcommand and prints the body unchanged', async () => {
    stint.routes['GET /v1/requests'] = { body: { requests: list } };
    const r = await cli('requests', '--all', '--json');
    expect(stint.received[0]?.query).toEqual({ scope: 'all' });
    expect(JSON.parse(r.stdout)).toEqual({ requests: list });
  });

  it('refuses two scopes at once and unknown states without calling the server', async () => {
    const both = await cli('requests', '--mine', '--all');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('cannot be used with');
    const state = await cli('requests', '--state', 'sleeping');
    expect(state.code).toBe(2);
    expect(state.stderr).toContain('Allowed choices are pending');
    const limit = await cli('requests', '--limit', 'lots');
    expect(limit.code).toBe(2);
    expect(stint.received).toHaveLength(0);
  });
});

describe('stint show', () => {
  it('shows the whole request, its reviews and a pending revocation', async () => {
    stint.routes['GET /v1/requests/req_0123456789abcdef'] = {
      body: requestView({
        state: 'revoked',
        tiers: ['manager'],
        waitingFor: [],
        reviews: [
          { reviewer: 'carol', decision: 'approve', comment: 'go ahead', at: '2025-06-01T11:56:00Z' },
        ],
        approvedAt: '2025-06-01T11:56:00Z',
        activatedAt: '2025-06-01T11:56:01Z',
        expiresAt: '2025-06-01T13:56:01Z',
        endedAt: '2025-06-01T11:59:00Z',
        endedBy: 'sam',
        endReason: 'suspicious activity',
        revocation: 'pending',
        revocationError: 'connect ECONNREFUSED 10.0.0.5:5432',
        credentialShown: true,
      }),
    };
    const r = await cli('show', 'req_0123456789abcdef');
    expect(r.code).toBe(0);
    expect(stint.received[0]?.method).toBe('GET');
    expect(r.stdout).toMatch(/^state: +revoked$/m);
    expect(r.stdout).toMatch(/^access: +prod-db\/admin$/m);
    expect(r.stdout).toMatch(/^duration: +2h$/m);
    expect(r.stdout).toMatch(/^ended: .* by sam: suspicious activity$/m);
    expect(r.stdout).toMatch(/^credential: +already shown$/m);
    expect(r.stdout).toMatch(/^ {2}.* carol approved: go ahead$/m);
    expect(r.stdout).toContain('revocation pending: connect ECONNREFUSED 10.0.0.5:5432');
    expect(r.stdout).not.toContain('needs:');
  });

  it('a request ended early does not say when it "expires"', async () => {
    const ended = requestView({
      state: 'revoked',
      waitingFor: [],
      approvedAt: '2025-06-01T11:56:00Z',
      activatedAt: '2025-06-01T11:56:01Z',
      expiresAt: '2025-06-01T13:56:01Z',
      endedAt: '2025-06-01T11:59:00Z',
      endedBy: 'alice',
      revocation: 'done',
    });
    stint.routes['GET /v1/requests/req_0123456789abcdef'] = { body: ended };
    const r = await cli('show', 'req_0123456789abcdef');
    expect(r.stdout).toMatch(/^ended: /m);
    expect(r.stdout).not.toMatch(/^expires:/m);
    expect(r.stdout).not.toContain('in 1h56m');

    stint.routes['GET /v1/requests'] = { body: { requests: [ended] } };
    const listed = await cli('requests');
    expect(listed.stdout).not.toContain('in 1h56m');

    stint.routes['GET /v1/requests/req_0123456789abcdef'] = {
      body: { ...ended, state: 'active', endedAt: null, endedBy: null, revocation: 'none' },
    };
    expect((await cli('show', 'req_0123456789abcdef')).stdout).toMatch(/^expires: .*\(in 1h56m\)$/m);
  });

  it('warns when the credential was removed from the target outside Stint', async () => {
    stint.routes['GET /v1/requests/req_0123456789abcdef'] = {
      body: requestView({
        state: 'revoked',
        waitingFor: [],
        activatedAt: '2025-06-01T11:56:01Z',
        expiresAt: '2025-06-01T13:56:01Z',
        endedAt: '2025-06-01T11:59:00Z',
        endedBy: 'stint',
        endReason: 'the credential was removed from the target outside Stint',
        revocation: 'done',
        credentialVanishedAt: '2025-06-01T11:59:00Z',
      }),
    };
    const r = await cli('show', 'req_0123456789abcdef');
    expect(r.stdout).toMatch(
      /^warning: the credential was removed from the target outside Stint, found .*\(1m ago\); access ended then$/m,
    );
    expect(r.stdout).toMatch(
      /^ended: .* by stint: the credential was removed from the target outside Stint$/m,
    );
  });

  it('shows what a pending request is waiting for', async () => {
    stint.routes['GET /v1/requests/req_0123456789abcdef'] = { body: requestView() };
    const r = await cli('show', 'req_0123456789abcdef');
    expect(r.stdout).toContain('needs: manager approval — carol');
    expect(r.stdout).toMatch(/^pending until: .*\(in 23h55m\)$/m);
    expect(r.stdout).not.toContain('revocation');
  });

  it('escapes the id in the path', async () => {
    const r = await cli('show', '../whoami');
    expect(stint.received[0]?.path).toBe('/v1/requests/..%2Fwhoami');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error \[NOT_FOUND\]/);
  });

  it('reports REQUEST_NOT_FOUND with its code', async () => {
    stint.routes['GET /v1/requests/req_nope'] = {
      status: 404,
      body: { error: { code: 'REQUEST_NOT_FOUND', message: 'no request req_nope' } },
    };
    const r = await cli('show', 'req_nope');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error [REQUEST_NOT_FOUND]: no request req_nope\n');
  });
});

describe('approve, deny, withdraw, revoke', () => {
  it.each(['approve', 'deny', 'withdraw', 'revoke'])('%s posts the comment to its route', async (action) => {
    stint.routes[`POST /v1/requests/req_0123456789abcdef/${action}`] = {
      body: requestView({ state: action === 'approve' ? 'active' : 'denied', waitingFor: [] }),
    };
    const r = await cli(action, 'req_0123456789abcdef', '--comment', 'checked with the team');
    expect(r.code).toBe(0);
    expect(stint.received[0]?.method).toBe('POST');
    expect(stint.received[0]?.path).toBe(`/v1/requests/req_0123456789abcdef/${action}`);
    expect(stint.received[0]?.body).toEqual({ comment: 'checked with the team' });
    expect(r.stdout).toContain('request req_0123456789abcdef for prod-db/admin by alice:');
  });

  it('sends an empty JSON object when there is no comment', async () => {
    stint.routes['POST /v1/requests/req_0123456789abcdef/approve'] = {
      body: requestView({
        tiers: ['two-person'],
        waitingFor: [{ tier: 'two-person', label: 'second approver', eligible: ['dave'] }],
      }),
    };
    const r = await cli('approve', 'req_0123456789abcdef');
    expect(stint.received[0]?.rawBody).toBe('{}');
    expect(stint.received[0]?.headers['content-type']).toBe('application/json');
    expect(r.stdout).toContain('needs: second approver approval — dave');
  });

  it('shows SELF_APPROVAL as an error with exit 1', async () => {
    stint.routes['POST /v1/requests/req_0123456789abcdef/approve'] = {
      status: 403,
      body: { error: { code: 'SELF_APPROVAL', message: 'you cannot approve your own request' } },
    };
    const r = await cli('approve', 'req_0123456789abcdef');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error [SELF_APPROVAL]: you cannot approve your own request\n');
  });

  it('revoke shows a revocation that is still pending', async () => {
    stint.routes['POST /v1/requests/req_0123456789abcdef/revoke'] = {
      body: requestView({
        state: 'revoked',
        waitingFor: [],
        revocation: 'pending',
        revocationError: 'timeout',
      }),
    };
    const r = await cli('revoke', 'req_0123456789abcdef');
    expect(r.stdout).toContain('revocation pending: timeout');
  });

  it('approve waits until the credential is issued, reading the request again; --no-wait does not', async () => {
    stint.routes['POST /v1/requests/req_0123456789abcdef/approve'] = {
      status: 200,
      body: requestView({ state: 'approved', waitingFor: [], approvedAt: '2025-06-01T11:56:00Z' }),
    };
    let reads = 0;
    stint.routes['GET /v1/requests/req_0123456789abcdef'] = () => {
      reads++;
      return { status: 200, body: requestView({ state: reads < 2 ? 'approved' : 'active' }) };
    };
    const waited = await cli('approve', 'req_0123456789abcdef');
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.stdout).toContain(': active');
    expect(reads).toBe(2);

    const quick = await cli('approve', 'req_0123456789abcdef', '--no-wait');
    expect(quick.code, quick.stderr).toBe(0);
    expect(quick.stdout).toContain(': approved');
    expect(quick.stdout).toContain('issuing the credential; see: stint show req_0123456789abcdef');
    expect(reads).toBe(2);
  });
});
