import { loadIdentityConfig } from '../../src/identity/identity-config.js';
import { createHarness, type Harness } from '../support/harness.js';
import type { StoreKind } from '../support/stores.js';
import type { TestIdp } from './idp.js';

/** Sign-in against the test IdP; `env` adds or overrides identity settings. */
export function testIdentityConfig(idp: TestIdp, env: Record<string, string> = {}) {
  return loadIdentityConfig({
    STINT_OIDC_ISSUER: idp.issuer,
    // The test provider listens on plain http on 127.0.0.1: allowed only with this flag.
    STINT_OIDC_ALLOW_INSECURE_ISSUER: '1',
    STINT_OIDC_CLIENT_ID: idp.portalClient.id,
    STINT_OIDC_CLIENT_SECRET: idp.portalClient.secret,
    STINT_OIDC_REDIRECT_URI: idp.portalClient.redirectUri,
    STINT_OIDC_CLI_CLIENT_ID: idp.cliClientId,
    ...env,
  });
}

/** The app of the harness, signing in against the test IdP; `env` overrides the identity settings. */
export function identityHarness(
  idp: TestIdp,
  env: Record<string, string> = {},
  kind: StoreKind = 'sqlite',
): Promise<Harness> {
  return createHarness(kind, {
    start: false,
    identity: { config: testIdentityConfig(idp, env) },
  });
}

export async function countRows(h: Harness, table: 'sessions' | 'api_tokens'): Promise<number> {
  const r = await h.testStore.store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function authEvents(h: Harness) {
  const rows = await h.testStore.store.db
    .selectFrom('audit_events')
    .select(['action', 'actor', 'body'])
    .where('action', 'like', 'auth.%')
    .orderBy('seq')
    .execute();
  return rows.map((r) => ({ ...r, parsed: JSON.parse(r.body ?? '{}') }));
}

let n = 0;
/** A fresh client address, so lock-out counts of one test do not spill into the next. */
export const freshIp = () => `10.9.${Math.floor(++n / 250)}.${(n % 250) + 1}`;
