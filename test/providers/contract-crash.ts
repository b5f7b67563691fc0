import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateNoteKey } from '../../src/audit/log/signed-note.js';
import { createTokenStore } from '../../src/auth/token-store.js';
import type { KindCapabilities } from '../../src/providers/kind.js';
import type { CredentialProvider, TargetOwner } from '../../src/providers/provider.js';
import { migrate, openDatabase } from '../../src/store/database.js';
import { readStoreId } from '../../src/store/store-identity.js';
import { waitFor } from '../support/pg-client.js';
import { type ServerProcess, startServerProcess } from '../support/server-process.js';
import type { ContractTarget } from './contract.js';

const KIND_SERVER = fileURLToPath(new URL('../support/kind-server.ts', import.meta.url));

/** How a real server process serves one resource of the kind under test. */
export interface CrashServer {
  /** A module exporting `kinds` the server registers besides the built-in ones (a test kind); none for those. */
  kindsModule?: string;
  /** The resource as a YAML list item under `resources:`: id `crash-target`, sensitivity routine, role `use`. */
  resourceYaml: string;
  /** What the resource's connection reads. */
  env: Record<string, string>;
}

/**
 * kill -9 of a server booted from a policy file, during issuance and during revocation, then a restart: nothing
 * stays half-way, and what the kind declares it can do holds on the target. Every kind runs it.
 */
export function crashRecovery(
  server: CrashServer,
  caps: KindCapabilities,
  parts: () => { provider: CredentialProvider; target: ContractTarget },
): void {
  describe('crash recovery (kill -9 of a server booted from a policy file, then restart)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stint-contract-crash-'));
    const dbUrl = `sqlite:${join(dir, 'stint.db')}`;
    const policyPath = join(dir, 'stint.yaml');
    const env = {
      ...server.env,
      STINT_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      STINT_AUDIT_SIGNING_KEY: generateNoteKey('stint-test').skey,
      STINT_LOG_LEVEL: 'warn',
      STINT_SWEEP_INTERVAL_MS: '200',
    };
    const args = [
      JSON.stringify({ kindsModule: server.kindsModule, policyPath, databaseUrl: dbUrl, dataDir: dir }),
    ];
    const start = () => startServerProcess(args, env, KIND_SERVER);
    const tokens: Record<string, string> = {};
    let running: ServerProcess | undefined;
    const deployment = `crash-${randomBytes(4).toString('hex')}`;
    let serverOwner: TargetOwner | undefined;
    /**
     * A provider as the crash server's store, for the names it gives requests: a kind whose names carry their
     * owner (Redis writes the store's id into the user name) names a request differently for each store.
     */
    let asServer: CredentialProvider | undefined;
    const principalOf = (requestId: string): string => {
      if (!serverOwner) throw new Error('the crash server store is not set up');
      asServer ??= parts().target.makeProvider(serverOwner);
      return asServer.principalFor(requestId);
    };

    const call = async (user: string, method: string, path: string, body?: unknown) => {
      const res = await fetch(`${running?.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${tokens[user]}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return {
        status: res.status,
        body: (await res.json()) as Record<string, unknown> & { id: string; state: string },
      };
    };

    async function storeState() {
      const store = openDatabase(dbUrl);
      try {
        const requests = await store.db
          .selectFrom('requests')
          .select(['id', 'state', 'expires_at'])
          .execute();
        const grants = await store.db
          .selectFrom('grants')
          .select(['request_id', 'principal', 'revocation', 'revoked_at'])
          .execute();
        return { requests, grants };
      } finally {
        await store.close();
      }
    }

    beforeAll(async () => {
      writeFileSync(
        policyPath,
        `version: 1
settings: { deployment: ${deployment} }
users:
  - { id: alice, email: alice@example.com, teams: [crew] }
  - { id: bob, email: bob@example.com, teams: [crew] }
  - { id: sam, email: sam@example.com, teams: [security], security: true }
resources:
${server.resourceYaml}
rules:
  - id: crash
    resources: [crash-target]
    roles: ['*']
    who: { teams: [crew] }
    duration: { min: 1s, default: 1h, max: 4h }
    approval: [auto]
`,
      );
      const store = openDatabase(dbUrl);
      await migrate(store);
      serverOwner = { deployment, storeId: await readStoreId(store.db) };
      const tokenStore = createTokenStore(store.db);
      for (const user of ['alice', 'bob', 'sam'])
        tokens[user] = (await tokenStore.create(user, 'test', new Date())).token;
      await store.close();
    });

    afterAll(async () => {
      await running?.kill9();
      await asServer?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('killed during issuance: after restart nothing is stuck, and no credential is left without its grant where the kind can find it', async () => {
      const { target } = parts();
      let caught = false;
      for (let attempt = 0; attempt < 8 && !caught; attempt++) {
        running = await start();
        const burst = Array.from({ length: 12 }, () =>
          call('alice', 'POST', '/v1/requests', {
            resource: 'crash-target',
            role: 'use',
            reason: 'crash',
          }),
        );
        // An auto-approved request answers once committed and is issued just after: the first answer means
        // issuances are under way. Later tries wait a little longer, to land at other points of them.
        await Promise.any(burst).catch(() => null);
        await new Promise((r) => setTimeout(r, attempt * 5));
        await running.kill9();
        await Promise.allSettled(burst);
        const { requests, grants } = await storeState();
        const live = new Set(grants.filter((g) => g.revocation === 'none').map((g) => g.principal));
        const orphaned = [];
        for (const r of requests) {
          const principal = principalOf(r.id);
          if (!live.has(principal) && (await target.principalExists(principal))) orphaned.push(principal);
        }
        caught = requests.some((r) => r.state === 'approved') || orphaned.length > 0;
      }
      expect(caught, 'no kill landed during an issuance in 8 tries').toBe(true);

      running = await start();
      const settled = await waitFor(async () => {
        const s = await storeState();
        return s.requests.every((r) => r.state !== 'approved') ? s : null;
      });
      for (const r of settled.requests) expect(['active', 'failed']).toContain(r.state);
      const live = new Set(settled.grants.filter((g) => g.revocation === 'none').map((g) => g.principal));
      for (const principal of live) expect(await target.principalExists(principal)).toBe(true);
      if (caps.listable && caps.revocation === 'remove') {
        // Reconciliation removes what a killed issuance left without a grant.
        const leftover = await waitFor(async () => {
          const stray = [];
          for (const r of settled.requests) {
            const principal = principalOf(r.id);
            if (!live.has(principal) && (await target.principalExists(principal))) stray.push(principal);
          }
          return stray.length === 0 ? stray : null;
        });
        expect(leftover).toEqual([]);
      }
      // A kind that cannot list cannot find such leftovers: they end at their own expiry, as declared.
      await running.kill9();
    }, 180_000);

    it('killed during revocation: after restart the revocation completes as the kind declares', async () => {
      const { target } = parts();
      running = await start();
      // An expire-only credential ends at its window's end: keep it short so the test sees it end.
      const duration = caps.revocation === 'expire-only' ? '3s' : '1h';
      // Another requester than the first test's: where a person's access is the union of their grants (a cloud
      // assignment, an IAM binding), alice's grants left live there would rightly keep her access after this one
      // is revoked.
      const asked = await call('bob', 'POST', '/v1/requests', {
        resource: 'crash-target',
        role: 'use',
        reason: 'crash',
        duration,
      });
      const active = await waitFor(async () => {
        const r = await call('bob', 'GET', `/v1/requests/${asked.body.id}`);
        return r.body.state === 'approved' ? null : r;
      });
      expect(active.body.state).toBe('active');
      const id = asked.body.id;
      // A kind that takes input at the take gets it as its user would send it (a public key to sign).
      const cred = await call('bob', 'POST', `/v1/requests/${id}/credentials`, target.takeInput?.());
      const secret = cred.body.secret as Record<string, string>;
      const session = await target.openSession(secret);

      // The revocation is committed, then the target is called: the kill lands around that call.
      const revoking = call('sam', 'POST', `/v1/requests/${id}/revoke`, { comment: 'crash' }).catch(
        () => null,
      );
      await new Promise((r) => setTimeout(r, 20));
      await running.kill9();
      await revoking;

      running = await start();
      const now = await call('sam', 'GET', `/v1/requests/${id}`);
      // Killed before the revocation committed: it is asked again, as its user would.
      if (now.body.state === 'active')
        await call('sam', 'POST', `/v1/requests/${id}/revoke`, { comment: 'again' });
      const done = await waitFor(async () => {
        const s = await storeState();
        const g = s.grants.find((x) => x.request_id === id);
        return g?.revocation === 'done' ? { grant: g, request: s.requests.find((x) => x.id === id) } : null;
      });
      await expect(target.openSession(secret)).rejects.toThrow();
      if (caps.revocation === 'remove') {
        expect(await target.principalExists(done.grant.principal)).toBe(false);
        if (caps.endsSessions) expect(await session.alive()).toBe(false);
      } else {
        // Not marked done before the credential's own end: an expire-only kind cannot take it back sooner.
        expect(Number(done.grant.revoked_at)).toBeGreaterThanOrEqual(Number(done.request?.expires_at));
      }
      await session.close();
      await running.kill9();
    }, 120_000);
  });
}
