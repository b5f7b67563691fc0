import pg from 'pg';
import { scramSha256Verifier } from '../src/providers/postgres/scram.js';
import { createProvider } from '../src/providers/registry.js';
import type { StoreKind } from '../test/support/stores.js';
import { buildBenchApp, expectStatus, untilActive } from './app.js';
import { MANAGER, REQUESTER, RESOURCE } from './policy.js';
import { type Summary, summarize } from './stats.js';
import { createProviderTimes, timeProvider } from './timed-provider.js';

export interface CredentialLatency {
  store: StoreKind;
  /** approve call sent → `SELECT 1` answered on a fresh connection with the issued credential. */
  total: Summary;
  /**
   * The approve call's round trip through app.inject: the server's whole approve → active, issuance included
   * (plus, when the sweeper took the issuance, polling until active).
   */
  approveToActive: Summary;
  /** Inside approveToActive: time in the PostgreSQL provider's issue() (two catalog reads, SCRAM, one tx). */
  providerIssue: Summary;
  /** Inside approveToActive: everything else (HTTP, auth, review tx, issue claim, activation tx). */
  approveOther: Summary;
  /** POST /v1/requests/:id/credentials: the one-time reveal. */
  credentialFetch: Summary;
  /** pg.Client connect (TCP + SCRAM-SHA-256) + `SELECT 1` with the issued credential. */
  connectAndSelect: Summary;
  /** Approvals answered before activation despite `Prefer: wait` (the sweeper issued it): polled until active. */
  sweeperWonIssuance: number;
  /** Explicit POST …/revoke afterwards (the cleanup, measured while at it; one at a time). */
  revoke: Summary;
}

const WARMUP = 10;

/** Approve → usable credential, one request at a time, against the scram cluster via the real provider. */
export async function measureCredentialLatency(
  kind: StoreKind,
  targetEnv: Record<string, string>,
  samples: number,
): Promise<CredentialLatency> {
  const times = createProviderTimes();
  const bench = await buildBenchApp(
    kind,
    () => (resource, owner) => timeProvider(createProvider(resource, targetEnv, { owner }), times),
  );
  const rows = { total: [], approve: [], issue: [], other: [], fetch: [], connect: [], revoke: [] } as Record<
    'total' | 'approve' | 'issue' | 'other' | 'fetch' | 'connect' | 'revoke',
    number[]
  >;
  const ids: string[] = [];
  let raced = 0;
  try {
    for (let i = 0; i < WARMUP + samples; i++) {
      const created = await bench.post(REQUESTER, '/v1/requests', {
        resource: RESOURCE,
        role: 'admin',
        reason: `bench credential ${i}`,
        duration: '1h',
      });
      expectStatus(created, 201, 'create');
      const id: string = created.body.id;
      ids.push(id);

      const t0 = performance.now();
      // As `stint approve` asks: answered once the credential is issued (Prefer: wait), polled only past that.
      const approved = await bench.post(MANAGER, `/v1/requests/${id}/approve`, {}, { prefer: 'wait=20' });
      expectStatus(approved, 200, 'approve');
      const active = await untilActive(bench, MANAGER, approved);
      const t1 = performance.now();
      const cred = await bench.post(REQUESTER, `/v1/requests/${id}/credentials`);
      const t2 = performance.now();
      expectStatus(cred, 200, 'credentials');
      const client = new pg.Client({ connectionString: cred.body.secret.url, connectionTimeoutMillis: 5000 });
      client.on('error', () => {});
      await client.connect();
      await client.query('SELECT 1');
      const t3 = performance.now();
      await client.end();

      if (i < WARMUP) continue;
      if (active.raced) raced++;
      const issue = times.issueMs.get(id) ?? Number.NaN;
      rows.total.push(t3 - t0);
      rows.approve.push(t1 - t0);
      rows.issue.push(issue);
      rows.other.push(t1 - t0 - issue);
      rows.fetch.push(t2 - t1);
      rows.connect.push(t3 - t2);
    }
    for (const [i, id] of ids.entries()) {
      const t0 = performance.now();
      const revoked = await bench.post(REQUESTER, `/v1/requests/${id}/revoke`, {});
      const t1 = performance.now();
      expectStatus(revoked, 200, 'revoke');
      if (revoked.body.revocation !== 'done') throw new Error(`revoke of ${id}: ${revoked.body.revocation}`);
      if (i >= WARMUP) rows.revoke.push(t1 - t0);
    }
  } finally {
    await bench.close();
  }
  return {
    store: kind,
    total: summarize(rows.total),
    approveToActive: summarize(rows.approve),
    providerIssue: summarize(rows.issue),
    approveOther: summarize(rows.other),
    credentialFetch: summarize(rows.fetch),
    connectAndSelect: summarize(rows.connect),
    sweeperWonIssuance: raced,
    revoke: summarize(rows.revoke),
  };
}

/** What one SCRAM-SHA-256 verifier costs (PBKDF2, 4096 rounds): the provider computes one per issue. */
export async function measureScramVerifier(samples = 50): Promise<Summary> {
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await scramSha256Verifier('bench-password-0123456789');
    out.push(performance.now() - t0);
  }
  return summarize(out);
}
