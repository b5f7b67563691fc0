import type { Logger } from '../../logger.js';
import type { CredentialProvider, RevokeResult, TargetOwner } from '../provider.js';
import { connectAdmin, query } from './connect.js';
import { issueCredential } from './issue-credential.js';
import { listForeign, listOwned } from './list-owned.js';
import type { PostgresConfig } from './postgres-config.js';
import { principalFor } from './principal-name.js';
import { revokeRole } from './revoke-role.js';

export interface PostgresProviderOptions {
  config: PostgresConfig;
  /** Written on every role created; listOwned returns only roles carrying this store id. */
  owner: TargetOwner;
  /** For what happens outside any call: an idle admin connection lost, an undo that failed. */
  logger?: Logger;
}

/**
 * Credentials on a PostgreSQL target: one LOGIN role per request, member of the roles its policy role grants,
 * with `VALID UNTIL` as the target's own backstop for the window.
 *
 * The admin role needs no standing privilege on the data: it is never a member (with inheritance) of a team role.
 * To end sessions and clean up, revoke makes it a member of the one role being removed, for the moments before
 * that role is dropped. docs/postgres-target.md lists and justifies the grants.
 */
export function createPostgresProvider(opts: PostgresProviderOptions): CredentialProvider {
  const admin = connectAdmin(opts.config, opts.owner, opts.logger);
  let closed = false;

  /**
   * Revokes of one principal under way here: a second caller joins the first instead of racing it (and shares
   * its outcome, cancellation included).
   */
  const revoking = new Map<string, Promise<RevokeResult>>();
  function revoke(principal: string, signal: AbortSignal): Promise<RevokeResult> {
    const running = revoking.get(principal);
    if (running) return running;
    const done = revokeRole(admin, principal, signal).finally(() => revoking.delete(principal));
    revoking.set(principal, done);
    return done;
  }

  const guarded = async <T>(action: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw admin.fail(action, err, signal);
    }
  };

  return {
    kind: 'postgres',
    principalFor,
    issue: (request, signal) => issueCredential(admin, request, signal, revoke),
    revoke: ({ principal }, signal) => revoke(principal, signal),

    verifyRevoked: ({ principal }, signal) =>
      guarded(`verify ${principal}`, signal, async () => {
        const { rows } = await query<{ role: boolean; sessions: boolean }>(
          admin,
          signal,
          `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS role,
                  EXISTS (SELECT 1 FROM pg_stat_activity WHERE usename = $1) AS sessions`,
          [principal],
        );
        const row = rows[0];
        return { gone: row !== undefined && !row.role && !row.sessions };
      }),

    listOwned: (_request, signal) =>
      guarded('list owned roles', signal, async () => ({ principals: await listOwned(admin, signal) })),

    listForeign: (_request, signal) =>
      guarded('list foreign roles', signal, async () => ({ principals: await listForeign(admin, signal) })),

    ping: (_request, signal) =>
      guarded('ping', signal, async () => {
        const { rows } = await query<{ version: string }>(
          admin,
          signal,
          "SELECT current_setting('server_version') AS version",
        );
        return { target: `PostgreSQL ${rows[0]?.version ?? 'unknown'}` };
      }),

    async close() {
      if (closed) return;
      closed = true;
      await admin.pool.end();
    },
  };
}
