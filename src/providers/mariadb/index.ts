import { z } from 'zod';
import { describeRef, readConnectionRef } from '../connection-ref.js';
import { defineKind } from '../kind.js';
import { lazyProvider } from '../lazy-provider.js';
import { parseMariaDbConfig, USER_HOST } from './mariadb-config.js';
import { principalFor } from './principal-name.js';

// Messages are fixed strings: zod's defaults could quote the input.
const options = z
  .strictObject({
    /** Host users connect to, when it is not the admin connection's (a proxy, a public name). */
    publicHost: z.string().min(1, { error: 'must not be empty' }).optional(),
    publicPort: z.int({ error: 'must be a whole number' }).min(1).max(65_535).optional(),
    /** Host part of every issued account (`'%'`, `'10.0.%'`, `'app.internal'`); `'%'` when absent. */
    userHost: z
      .string()
      .regex(USER_HOST, { error: 'must be an account host: letters, digits, ".", "%", "_", ":", "/" or "-"' })
      .optional(),
    /** `MAX_USER_CONNECTIONS` of each issued account; the server's default when absent. */
    connectionLimit: z
      .int({ error: 'must be a whole number' })
      .min(1, { error: 'must be at least 1' })
      .optional(),
    /** The target-side EVENT that drops an account at its window's end (needs event_scheduler=ON); on by default. */
    expiryEvent: z.boolean({ error: 'must be true or false' }).optional(),
  })
  .default({});

const grants = z
  .array(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]{0,63}$/, {
      error: 'must be a role name on the target: a letter or "_", then letters, digits, "_" or "$"',
    }),
  )
  .length(1, {
    error:
      'must grant exactly one role: MariaDB starts a session in one default role (make a role on the target that holds the others)',
  });

/**
 * MariaDB: one account per request, given one role as its default role, with a scheduled EVENT as the target's
 * own backstop for the window. Removable, listable (a metadata table on the target carries the owner), and revoke
 * kills live connections.
 */
export const mariadbKind = defineKind({
  kind: 'mariadb',
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
      sees: 'accounts not marked in stint_meta.principals with global privileges (ALL, SUPER, CREATE USER …), GRANT OPTION, schema-wide privileges, or roles (directly or through roles) the policy grants, that carry privileges, or WITH ADMIN OPTION; read from mysql.user’s privilege columns, mysql.roles_mapping and mysql.db. Not: table, column and routine grants, and the privileges 10.5+ added without a mysql.user column (CONNECTION ADMIN, BINLOG ADMIN …) unless held through ALL',
    },
  },
  configure: (target, env) =>
    parseMariaDbConfig(
      target.id,
      { adminUrl: readConnectionRef(target, env), ...target.options },
      target.connection ? describeRef(target.connection) : undefined,
    ),
  // The driver loads with the first call on a resource of this kind, not with the server.
  create: (config, { owner, logger }) =>
    lazyProvider({ kind: 'mariadb', principalFor, listStanding: true, removeStanding: true }, async () =>
      (await import('./mariadb-provider.js')).createMariaDbProvider({
        config,
        owner,
        ...(logger ? { logger } : {}),
      }),
    ),
});
