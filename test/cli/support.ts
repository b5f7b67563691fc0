import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CliIo } from '../../src/cli/context.js';
import { runCli } from '../../src/cli/program.js';
import type { RequestView } from '../../src/requests/request-types.js';

/** One HTTP request as the fake Stint server received it. */
export interface Received {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  rawBody: string;
  body: unknown;
}

export interface Reply {
  status?: number;
  /** A string is sent as-is (text/plain); anything else as JSON. */
  body: unknown;
}

export type Route = Reply | ((req: Received) => Reply);

/**
 * A real HTTP server on a random local port that answers `METHOD /path` with fixed replies and records what it
 * got, so tests see exactly what went over the wire.
 */
export async function startFakeStint(routes: Record<string, Route>) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const r: Received = {
        method: req.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        rawBody,
        body: rawBody === '' ? undefined : JSON.parse(rawBody),
      };
      received.push(r);
      const route = routes[`${r.method} ${r.path}`];
      const reply: Reply = route
        ? typeof route === 'function'
          ? route(r)
          : route
        : { status: 404, body: { error: { code: 'NOT_FOUND', message: `no route ${r.method} ${r.path}` } } };
      const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
      res.writeHead(reply.status ?? 200, {
        'content-type': typeof reply.body === 'string' ? 'text/plain' : 'application/json',
      });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    routes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type FakeStint = Awaited<ReturnType<typeof startFakeStint>>;

/** The fixed "now" of every CLI run in these tests. */
export const NOW = new Date('2025-06-01T12:00:00Z');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `stint …` in-process and captures what it printed and its exit status. */
export async function run(argv: string[], io: Partial<CliIo> = {}): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: {},
    now: () => NOW,
    ...io,
  });
  return { code, stdout, stderr };
}

export function requestView(overrides: Partial<RequestView> = {}): RequestView {
  return {
    id: 'req_0123456789abcdef',
    requester: 'alice',
    resource: 'prod-db',
    role: 'admin',
    reason: 'INC-42',
    durationSeconds: 7200,
    state: 'pending',
    tiers: ['manager'],
    waitingFor: [{ tier: 'manager', label: 'manager', eligible: ['carol'] }],
    eligibleApprovers: ['carol'],
    reviews: [],
    policyVersion: 'v-abc123',
    ruleId: 'prod-db-admin',
    createdAt: '2025-06-01T11:55:00Z',
    pendingUntil: '2025-06-02T11:55:00Z',
    approvedAt: null,
    activatedAt: null,
    expiresAt: null,
    endedAt: null,
    endedBy: null,
    endReason: null,
    revocation: 'none',
    revocationError: null,
    credentialShown: false,
    credentialVanishedAt: null,
    ...overrides,
  };
}
