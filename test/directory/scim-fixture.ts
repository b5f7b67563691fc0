import Fastify, { type FastifyInstance } from 'fastify';
import { type AuditWriter, createAuditWriter } from '../../src/audit/audit-writer.js';
import { createDirectory, type Directory, withDirectory } from '../../src/directory/directory.js';
import { staticScimToken } from '../../src/directory/scim-auth.js';
import { scimRoutes } from '../../src/directory/scim-routes.js';
import { createScimService, type ScimService } from '../../src/directory/scim-service.js';
import { createScimSource, type ScimSource } from '../../src/directory/scim-source.js';
import { silentLogger } from '../../src/logger.js';
import { parsePolicy } from '../../src/policy/policy-loader.js';
import type { PolicySource } from '../../src/policy/policy-source.js';
import type { Policy } from '../../src/policy/policy-types.js';
import type { StintDatabase } from '../../src/store/database.js';
import { TEST_POLICY } from '../support/test-policy.js';

export const SCIM_TOKEN = 'scim-test-token-0123456789abcdef0123456789';
export const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

// biome-ignore lint/suspicious/noExplicitAny: test responses are inspected field by field
type ResponseBody = any;

export interface ScimFixture {
  app: FastifyInstance;
  service: ScimService;
  source: ScimSource;
  directory: Directory;
  /** The policy with the merged directory, as the request service would see it. */
  policy: PolicySource;
  removed: string[][];
  call(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    body?: unknown,
    token?: string,
  ): Promise<{ status: number; type: string | undefined; body: ResponseBody }>;
  /** Everything SCIM stored, to prove a refused request changed nothing. */
  dump(): Promise<unknown>;
  close(): Promise<void>;
}

/** The SCIM plugin alone on a Fastify app, wired to a directory over the test policy's YAML users. */
export async function scimFixture(
  store: StintDatabase,
  opts: { policy?: Policy; onRemoved?: (ids: string[]) => void; audit?: AuditWriter } = {},
): Promise<ScimFixture> {
  const policy = opts.policy ?? parsePolicy(TEST_POLICY, 'test-policy.yaml');
  const source = createScimSource({
    store,
    mapping: {
      idAttribute: 'userName',
      groups: { security: 'security', auditor: 'auditor', admin: 'admin', onCall: 'on-call' },
    },
    logger: silentLogger,
  });
  await source.load();
  const removed: string[][] = [];
  const directory = createDirectory({
    yaml: () => policy.users,
    sources: [source],
    onRemoved: (ids) => {
      removed.push(ids);
      opts.onRemoved?.(ids);
    },
  });
  directory.refresh();
  const service = createScimService({
    store,
    // Without a server's writer, events carry no MAC: nothing builds a tree here.
    audit: opts.audit ?? createAuditWriter([]),
    clock: () => new Date(),
    onChange: () => source.load(),
  });
  const app = Fastify();
  await app.register(scimRoutes({ service, authenticate: staticScimToken(SCIM_TOKEN) }));
  await app.ready();
  return {
    app,
    service,
    source,
    directory,
    policy: withDirectory({ current: () => policy }, directory),
    removed,
    async call(method, url, body, token = SCIM_TOKEN) {
      const res = await app.inject({
        method,
        url,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }),
        },
        ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      return {
        status: res.statusCode,
        type: res.headers['content-type'] as string | undefined,
        body: res.body ? res.json() : null,
      };
    },
    async dump() {
      const db = store.db;
      return {
        users: await db.selectFrom('scim_users').selectAll().orderBy('id').execute(),
        groups: await db.selectFrom('scim_groups').selectAll().orderBy('id').execute(),
        memberships: await db
          .selectFrom('scim_memberships')
          .selectAll()
          .orderBy('group_id')
          .orderBy('user_id')
          .execute(),
      };
    },
    close: () => app.close(),
  };
}

export function scimUser(userName: string, extra: Record<string, unknown> = {}) {
  return {
    schemas: [USER],
    userName,
    name: { givenName: userName, familyName: 'Test' },
    emails: [{ value: `${userName}@corp.example`, type: 'work', primary: true }],
    active: true,
    ...extra,
  };
}
