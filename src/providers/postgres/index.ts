import { z } from 'zod';
import { describeRef, readConnectionRef } from '../connection-ref.js';
import { defineKind } from '../kind.js';
import { parsePostgresConfig } from './postgres-config.js';
import { createPostgresProvider } from './postgres-provider.js';

// Messages are fixed strings: zod's defaults could quote the input.
const options = z
  .strictObject({
    /** Host users connect to, when it is not the admin connection's (a proxy, a public name). */
    publicHost: z.string().min(1, { error: 'must not be empty' }).optional(),
    publicPort: z.int({ error: 'must be a whole number' }).min(1).max(65_535).optional(),
    /** Caps the concurrent sessions of each issued login; unlimited when absent. */
    connectionLimit: z.int({ error: 'must be a whole number' }).min(-1).optional(),
    /**
     * Stint's admin connections to this target: how many of its calls run at once (the rest wait in Stint's
     * queue, revocations first). Raise it for a target that serves many grants; it counts against the target's
     * max_connections.
     */
    adminConnections: z.int({ error: 'must be a whole number' }).min(1).max(64).optional(),
    /**
     * Sessions only through Stint's PostgreSQL recording proxy (src/recording/pg-proxy, docs/recording.md): the
     * user is given a secret for the proxy at `host:port`, never the role's password, which the proxy keeps.
     */
    proxy: z
      .strictObject({
        /** Where users reach the proxy (its STINT_PG_PROXY_LISTEN, or the name in front of it). */
        host: z.string().min(1, { error: 'must not be empty' }),
        port: z.int({ error: 'must be a whole number' }).min(1).max(65_535),
        /** Bound values of the extended protocol logged as their size only (true) or as sent (false). */
        redactParameters: z.boolean({ error: 'must be true or false' }).default(true),
        /** When the statement log cannot be written: end the session (fail closed) or carry on unlogged. */
        onRecordingFailure: z
          .enum(['end-session', 'continue'], { error: 'must be end-session or continue' })
          .default('end-session'),
      })
      .optional(),
  })
  .default({});

export type PostgresOptions = z.infer<typeof options>;

const grants = z
  .array(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/, {
      error: 'must be a role name on the target: a letter or "_", then letters, digits, "_", "$" or "-"',
    }),
  )
  .min(1, { error: 'must grant at least one role' });

/**
 * PostgreSQL: one LOGIN role per request, member of the roles its policy role grants, with `VALID UNTIL` as the
 * target's own backstop. Removable, listable (role comments carry the owner), and revoke ends live sessions.
 */
export const postgresKind = defineKind({
  kind: 'postgres',
  options,
  grants,
  connection: 'required',
  capabilities: {
    revocation: 'remove',
    listable: true,
    endsSessions: true,
    contactsTargetAtIssue: true,
    inventory: {
      lists: 'standing',
      sees: 'login roles not made by Stint with SUPERUSER, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS; membership (direct or through other roles) in pg_* roles, in the roles the policy grants or in roles with those attributes; ADMIN OPTION; databases owned; and, in the admin URL’s database only, schemas and relations owned and direct INSERT/UPDATE/DELETE/TRUNCATE grants. Not: other databases’ objects, pg_hba.conf, grants to PUBLIC, column grants, default privileges',
    },
  },
  configure: (target, env) =>
    parsePostgresConfig(
      target.id,
      { adminUrl: readConnectionRef(target, env), ...target.options },
      target.connection ? describeRef(target.connection) : undefined,
    ),
  create: (config, { owner, logger }) =>
    createPostgresProvider({ config, owner, ...(logger ? { logger } : {}) }),
});
