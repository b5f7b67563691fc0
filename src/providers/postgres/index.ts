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
  })
  .default({});

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
  capabilities: { revocation: 'remove', listable: true, endsSessions: true, contactsTargetAtIssue: true },
  configure: (target, env) =>
    parsePostgresConfig(
      target.id,
      { adminUrl: readConnectionRef(target, env), ...target.options },
      target.connection ? describeRef(target.connection) : undefined,
    ),
  create: (config, { owner, logger }) =>
    createPostgresProvider({ config, owner, ...(logger ? { logger } : {}) }),
});
