import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEventView } from '../../src/audit/audit-events.js';
import type { WhoAmIView } from '../../src/catalog/catalog-types.js';
import type { CredentialView } from '../../src/requests/request-types.js';
import { type FakeStint, run, startFakeStint } from './support.js';

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

const credential: CredentialView = {
  requestId: 'req_0123456789abcdef',
  resource: 'prod-db',
  role: 'admin',
  principal: 'stint_alice_1a2b',
  expiresAt: '2025-06-01T13:59:00Z',
  secret: {
    url: 'postgres://stint_alice_1a2b:pw-xyz@db.internal:5432/app',
    username: 'stint_alice_1a2b',
    password: 'pw-xyz',
    host: 'db.internal',
    port: '5432',
    database: 'app',
  },
};

describe('stint credentials', () => {
  it('posts without a body and prints the connection string first, then the fields and a once-only note', async () => {
    stint.routes['POST /v1/requests/req_0123456789abcdef/credentials'] = { body: credential };
    const r = await cli('credentials', 'req_0123456789abcdef');
    expect(r.code).toBe(0);
    const sent = stint.received[0];
    expect(sent?.method).toBe('POST');
    expect(sent?.rawBody).toBe('');
    expect(sent?.headers['content-type']).toBeUndefined();
    expect(r.stdout.split('\n')[0]).toBe(credential.secret.url);
    expect(r.stdout).toMatch(/^password: +pw-xyz$/m);
    expect(r.stdout).toMatch(/^principal: +stint_alice_1a2b$/m);
    expect(r.stdout).toMatch(/^expires: .*\(in 1h59m\)$/m);
    expect(r.stderr).toMatch(/shown once.*stops working at .*\(in 1h59m\)/);
  });

  it('--public-key sends the public key line as the body; a private key is refused before anything is sent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-cli-pubkey-'));
    try {
      const line =
        'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBlobBlobBlobBlobBlobBlobBlobBlobBlobBlob alice@laptop';
      writeFileSync(join(dir, 'id.pub'), `${line}\n`);
      writeFileSync(
        join(dir, 'id'),
        '-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n',
      );
      stint.routes['POST /v1/requests/req_0123456789abcdef/credentials'] = { body: credential };
      const r = await cli('credentials', 'req_0123456789abcdef', '--public-key', join(dir, 'id.pub'));
      expect(r.code).toBe(0);
      expect(JSON.parse(stint.received[0]?.rawBody ?? '')).toEqual({ publicKey: line });

      stint.received.length = 0;
      const refused = await cli('credentials', 'req_0123456789abcdef', '--public-key', join(dir, 'id'));
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/private key/);
      expect(refused.stderr).not.toContain('b3Blbn');
      expect(stint.received).toHaveLength(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--json prints the credential JSON only', async () => {
    stint.routes['POST /v1/requests/req_0123456789abcdef/credentials'] = { body: credential };
    const r = await cli('credentials', 'req_0123456789abcdef', '--json');
    expect(JSON.parse(r.stdout)).toEqual(credential);
    expect(r.stderr).toBe('');
  });

  it('reports a second attempt as CREDENTIAL_ALREADY_SHOWN', async () => {
    stint.routes['POST /v1/requests/req_0123456789abcdef/credentials'] = {
      status: 410,
      body: { error: { code: 'CREDENTIAL_ALREADY_SHOWN', message: 'the credential was already shown' } },
    };
    const r = await cli('credentials', 'req_0123456789abcdef');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('error [CREDENTIAL_ALREADY_SHOWN]: the credential was already shown\n');
  });
});

describe('stint resources, whoami, audit list', () => {
  it('resources prints a table of ids, sensitivity and role names', async () => {
    stint.routes['GET /v1/resources'] = {
      body: {
        resources: [
          {
            id: 'prod-db',
            kind: 'postgres',
            description: 'Production database',
            sensitivity: 'critical',
            roles: [
              { name: 'admin', description: 'Full access' },
              { name: 'read', description: 'Read only' },
            ],
          },
        ],
      },
    };
    const r = await cli('resources');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/prod-db.*postgres.*critical.*admin, read.*Production database/);
  });

  it('whoami prints the directory entry', async () => {
    const me: WhoAmIView = {
      userId: 'alice',
      email: 'alice@example.com',
      name: 'Alice',
      teams: ['payments'],
      manager: 'carol',
      roles: [],
    };
    stint.routes['GET /v1/whoami'] = { body: me };
    const r = await cli('whoami');
    expect(r.stdout).toMatch(/^user: +alice$/m);
    expect(r.stdout).toMatch(/^manager: +carol$/m);
    expect(r.stdout).toMatch(/^teams: +payments$/m);
    expect(r.stdout).toMatch(/^roles: +-$/m);
    expect((await cli('whoami', '--json')).stdout).toBe(`${JSON.stringify(me, null, 2)}\n`);
  });

  it('audit list passes its filters and summarises reason and comment', async () => {
    const events: AuditEventView[] = [
      {
        seq: 7,
        id: 'e7',
        at: '2025-06-01T11:55:00Z',
        actor: 'alice',
        action: 'request.created',
        requestId: 'req_0123456789abcdef',
        details: { reason: 'INC-42', durationSeconds: 7200 },
        body: null,
      },
      {
        seq: 8,
        id: 'e8',
        at: '2025-06-01T11:56:00Z',
        actor: 'carol',
        action: 'request.approved',
        requestId: 'req_0123456789abcdef',
        details: { comment: 'go ahead' },
        body: null,
      },
      {
        seq: 9,
        id: 'e9',
        at: '2025-06-01T11:57:00Z',
        actor: 'system',
        action: 'policy.loaded',
        requestId: null,
        details: { version: 'v2' },
        body: null,
      },
    ];
    stint.routes['GET /v1/audit/events'] = { body: { events } };
    const r = await cli('audit', 'list', '--request', 'req_0123456789abcdef', '--after', '6', '--limit', '3');
    expect(r.code).toBe(0);
    expect(stint.received[0]?.query).toEqual({ request: 'req_0123456789abcdef', after: '6', limit: '3' });
    const lines = r.stdout.split('\n');
    expect(lines.find((l) => l.includes('request.created'))).toMatch(/7.*\(5m ago\).*alice.*reason: INC-42/);
    expect(lines.find((l) => l.includes('request.approved'))).toMatch(/8.*carol.*comment: go ahead/);
    expect(lines.find((l) => l.includes('policy.loaded'))).toMatch(/9.*system.*-.*version=v2/);
  });
});

describe('connection, authentication and error reporting', () => {
  it('takes the URL and token from STINT_URL and STINT_TOKEN', async () => {
    stint.routes['GET /v1/whoami'] = {
      body: { userId: 'bob', email: '', name: '', teams: [], manager: null, roles: [] },
    };
    const r = await run(['whoami'], { env: { STINT_URL: stint.url, STINT_TOKEN: 'from-env' } });
    expect(r.code).toBe(0);
    expect(stint.received[0]?.headers.authorization).toBe('Bearer from-env');
  });

  it('prefers --token over STINT_TOKEN and keeps a path prefix in the URL', async () => {
    stint.routes['GET /stint/v1/whoami'] = {
      body: { userId: 'bob', email: '', name: '', teams: [], manager: null, roles: [] },
    };
    const r = await run(['--url', `${stint.url}/stint/`, '--token', 'from-flag', 'whoami'], {
      env: { STINT_TOKEN: 'from-env' },
    });
    expect(r.code).toBe(0);
    expect(stint.received[0]?.path).toBe('/stint/v1/whoami');
    expect(stint.received[0]?.headers.authorization).toBe('Bearer from-flag');
  });

  it('sends no Authorization header without a token, and hints at STINT_TOKEN on 401', async () => {
    stint.routes['GET /v1/whoami'] = {
      status: 401,
      body: { error: { code: 'UNAUTHENTICATED', message: 'missing or invalid token' } },
    };
    const r = await run(['--url', stint.url, 'whoami']);
    expect(stint.received[0]?.headers.authorization).toBeUndefined();
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error [UNAUTHENTICATED]: missing or invalid token (no token given: set STINT_TOKEN or --token)\n',
    );
  });

  it('never prints the token, on success or failure', async () => {
    stint.routes['GET /v1/whoami'] = {
      status: 401,
      body: { error: { code: 'UNAUTHENTICATED', message: 'token expired' } },
    };
    const failed = await cli('whoami');
    expect(failed.stderr).toContain('error [UNAUTHENTICATED]: token expired');
    stint.routes['GET /v1/resources'] = { body: { resources: [] } };
    const ok = await cli('resources');
    for (const r of [failed, ok]) expect(r.stdout + r.stderr).not.toContain('secret-value-never-printed');
  });

  it('prints policy problems from the error details, one per line', async () => {
    stint.routes['POST /v1/requests'] = {
      status: 422,
      body: {
        error: {
          code: 'POLICY_INVALID',
          message: 'stint.yaml is invalid (2 problems):\nstint.yaml:3:5: rules[0].approval: unknown tier\n…',
          details: {
            problems: [
              { file: 'stint.yaml', line: 3, column: 5, field: 'rules[0].approval', message: 'unknown tier' },
              { file: 'stint.yaml', line: 9, column: 1, field: 'users', message: 'duplicate id bob' },
            ],
          },
        },
      },
    };
    const r = await cli('request', 'prod-db', '--role', 'admin', '--reason', 'INC-1');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      [
        'error [POLICY_INVALID]: stint.yaml is invalid (2 problems):',
        '  stint.yaml:3:5: rules[0].approval: unknown tier',
        '  stint.yaml:9:1: users: duplicate id bob',
        '',
      ].join('\n'),
    );
  });

  it('prints schema validation problems by path', async () => {
    stint.routes['GET /v1/requests'] = {
      status: 400,
      body: {
        error: {
          code: 'VALIDATION_FAILED',
          message: 'invalid querystring: must be <= 500',
          details: { problems: [{ path: '/limit', message: 'must be <= 500', params: { limit: 500 } }] },
        },
      },
    };
    const r = await cli('requests');
    expect(r.stderr).toBe(
      'error [VALIDATION_FAILED]: invalid querystring: must be <= 500\n  /limit: must be <= 500\n',
    );
  });

  it('prints plain details as key: value, e.g. the request id of an internal error', async () => {
    stint.routes['POST /v1/requests'] = {
      status: 400,
      body: {
        error: {
          code: 'TICKET_MALFORMED',
          message: 'the reason must be a ticket reference',
          details: { patterns: ['^INC-\\d+$', '^CHG-\\d+$'] },
        },
      },
    };
    const ticket = await cli('request', 'prod-db', '--role', 'admin', '--reason', 'x');
    expect(ticket.stderr).toBe(
      'error [TICKET_MALFORMED]: the reason must be a ticket reference\n  patterns: ^INC-\\d+$, ^CHG-\\d+$\n',
    );
    stint.routes['GET /v1/whoami'] = {
      status: 500,
      body: { error: { code: 'INTERNAL', message: 'internal error', details: { requestId: 'req-7' } } },
    };
    const internal = await cli('whoami');
    expect(internal.code).toBe(1);
    expect(internal.stderr).toBe('error [INTERNAL]: internal error\n  requestId: req-7\n');
  });

  it('reports a non-Stint error answer as BAD_RESPONSE with the status', async () => {
    stint.routes['GET /v1/whoami'] = { status: 502, body: '<html>Bad Gateway</html>' };
    const r = await cli('whoami');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error \[BAD_RESPONSE\]: GET \/v1\/whoami failed with HTTP 502/);
    expect(r.stderr).not.toContain('<html>');
  });

  it('says clearly when the server cannot be reached', async () => {
    const gone = await startFakeStint({});
    await gone.close();
    const r = await run(['--url', gone.url, '--token', TOKEN, 'whoami']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.startsWith(`error [UNREACHABLE]: cannot reach Stint at ${gone.url}: `)).toBe(true);
    expect(r.stderr).toContain('ECONNREFUSED');
    expect(r.stderr).not.toContain('secret-value-never-printed');
  });

  it('refuses a --url that is not a URL as a usage error', async () => {
    const r = await run(['--url', 'not a url', 'whoami']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error \[USAGE\]: "not a url" is not a URL/);
  });

  it('uses the injected fetch and the default URL when nothing is configured', async () => {
    const seen: string[] = [];
    const fakeFetch: typeof fetch = async (input) => {
      seen.push(String(input));
      return new Response(JSON.stringify({ resources: [] }), { status: 200 });
    };
    const r = await run(['resources'], { fetch: fakeFetch });
    expect(r.code).toBe(0);
    expect(seen).toEqual(['http://127.0.0.1:7070/v1/resources']);
    expect(r.stdout).toBe('no resources\n');
  });
});

describe('usage', () => {
  it('--help lists the commands and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const cmd of [
      'request',
      'requests',
      'show',
      'approve',
      'credentials',
      'audit',
      'policy',
      'server',
      'admin',
    ]) {
      expect(r.stdout).toMatch(new RegExp(`^ {2}${cmd}\\b`, 'm'));
    }
  });

  it('an unknown command exits 2', async () => {
    const r = await run(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });

  it('show without an id exits 2', async () => {
    const r = await run(['show']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("missing required argument 'id'");
  });
});
