import type { FastifyInstance } from 'fastify';
import { staticScimToken } from '../../src/directory/scim-auth.js';
import { createScimService } from '../../src/directory/scim-service.js';
import { testIdentityConfig } from '../identity/fixtures.js';
import { startIdp, type TestIdp } from '../identity/idp.js';
import { createHarness, type Harness } from './harness.js';
import type { StoreKind } from './stores.js';

export const FULL_SCIM_TOKEN = 'scim-full-app-token-0123456789abcdef0123456789';

export interface FullApp {
  h: Harness;
  /** The server with every route it can have: sign-in against a real IdP, and SCIM. */
  app: FastifyInstance;
  idp: TestIdp;
  close(): Promise<void>;
}

/** The harness's application served with everything switched on, as the route-table checks need it. */
export async function createFullApp(kind: StoreKind): Promise<FullApp> {
  const idp = await startIdp();
  const h = await createHarness(kind, {
    identity: {
      config: testIdentityConfig(idp, {
        // Bad input is what these tests send, from one address: lock-out and rate limits must not hide it.
        STINT_AUTH_RATE_LIMIT: '100000',
        STINT_AUTH_LOCKOUT_THRESHOLD: '100000',
      }),
    },
    scim: (store, audit) => ({
      service: createScimService({ store, audit, clock: () => new Date(), onChange: async () => {} }),
      authenticate: staticScimToken(FULL_SCIM_TOKEN),
    }),
  });
  const { app } = h;
  return {
    h,
    app,
    idp,
    async close() {
      await h.close();
      await idp.close();
    },
  };
}
