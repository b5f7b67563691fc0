import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { StintError } from '../../domain/errors.js';
import type { Logger } from '../../logger.js';
import type {
  CredentialProvider,
  ForeignPrincipal,
  IssuedCredential,
  IssueInput,
  OwnedPrincipal,
  TargetOwner,
} from '../provider.js';
import { isServerError, providerError, sqlState } from './postgres-errors.js';
import {
  COMMENT_PREFIX,
  commentFor,
  isPrincipalName,
  type ParsedComment,
  PRINCIPAL_PREFIX,
  parseComment,
  principalFor,
} from './principal-name.js';
import { scramSha256Verifier } from './scram.js';

export interface PostgresProviderOptions {
  resourceId: string;
  /** `postgres://stint_admin:…@host:port/db`: the least-privileged admin role of docs/postgres-target.md. */
  adminUrl: string;
  /** Host and port users connect to, when they differ from the admin connection's (a proxy, a public name). */
  publicHost?: string;
  publicPort?: number;
  /** Caps the concurrent sessions of each issued login; unlimited when absent. */
  connectionLimit?: number;
  logger?: Logger;
  /** Written on every role created; listOwned returns only roles carrying this store id. */
  owner: TargetOwner;
}

/** How long revoke waits for terminated sessions to go before it reports failure (and leaves the role, NOLOGIN). */
const SESSION_END_TIMEOUT_MS = 5_000;
/** A statement that waits this long for a lock is abandoned rather than hanging a sweep. */
const LOCK_TIMEOUT_MS = 5_000;
const STATEMENT_TIMEOUT_MS = 15_000;

interface Target {
  host: string;
  port: number;
  database: string;
  sslmode: string | null;
  /** Secrets of the admin URL, to redact from any message. */
  secrets: string[];
}

function parseAdminUrl(resourceId: string, adminUrl: string): Target {
  let url: URL;
  try {
    url = new URL(adminUrl);
  } catch {
    // The value itself is never echoed: it holds the admin password.
    throw new StintError('PROVIDER_ERROR', `resource ${resourceId}: admin connection is not a valid URL`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new StintError(
      'PROVIDER_ERROR',
      `resource ${resourceId}: admin connection must be a postgres:// URL`,
    );
  }
  const password = url.password;
  const decoded = safeDecode(password);
  const user = safeDecode(url.username);
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost',
    port: url.port ? Number(url.port) : 5432,
    // libpq's default database is the user's name.
    database: safeDecode(url.pathname.replace(/^\//, '')) || user,
    sslmode: url.searchParams.get('sslmode'),
    secrets: [adminUrl, password, decoded].filter((s) => s.length > 0),
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const ident = (name: string) => pg.escapeIdentifier(name);
const literal = (value: string) => pg.escapeLiteral(value);

/**
 * Credentials on a PostgreSQL target: one LOGIN role per request, member of the roles its policy role grants,
 * with `VALID UNTIL` as the target's own backstop for the window.
 *
 * The admin role needs no standing privilege on the data: it is never a member (with inheritance) of a team role.
 * To end sessions and clean up, revoke makes it a member of the one role being removed, for the moments before
 * that role is dropped. docs/postgres-target.md lists and justifies the grants.
 */
export function createPostgresProvider(opts: PostgresProviderOptions): CredentialProvider {
  const { resourceId, logger } = opts;
  const { owner } = opts;
  const target = parseAdminUrl(resourceId, opts.adminUrl);
  const publicHost = opts.publicHost ?? target.host;
  const publicPort = opts.publicPort ?? target.port;
  const pool = new pg.Pool({
    connectionString: opts.adminUrl,
    max: 4,
    connectionTimeoutMillis: 2_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    lock_timeout: LOCK_TIMEOUT_MS,
    application_name: 'stint',
  });
  // An idle admin connection dropped by the server emits 'error' on the pool; unhandled, it would end the process.
  pool.on('error', (err) => {
    logger?.warn(
      {
        resource: resourceId,
        error: providerError(resourceId, 'idle connection', err, target.secrets).message,
      },
      'postgres admin connection lost',
    );
  });
  let closed = false;

  const fail = (action: string, err: unknown, extraSecrets: readonly string[] = []) =>
    providerError(resourceId, action, err, [...target.secrets, ...extraSecrets]);

  async function roleComment(principal: string): Promise<{ exists: boolean; comment: string | null }> {
    const { rows } = await pool.query<{ comment: string | null }>(
      "SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1",
      [principal],
    );
    const row = rows[0];
    return row ? { exists: true, comment: row.comment } : { exists: false, comment: null };
  }

  /**
   * Granted roles a member could SET ROLE to and then make roles of their own (or become Stint): Stint's admin
   * role, anything with CREATEROLE or SUPERUSER, another issued credential. Unknown names are left to GRANT.
   */
  async function unsafeGrants(grants: string[]): Promise<string[]> {
    if (grants.length === 0) return [];
    const { rows } = await pool.query<{ rolname: string }>(
      `SELECT rolname FROM pg_roles
        WHERE rolname = ANY($1::text[])
          AND (rolname = current_user OR rolsuper OR rolcreaterole
               OR starts_with(coalesce(shobj_description(oid, 'pg_authid'), ''), $2))
        ORDER BY rolname`,
      [grants, COMMENT_PREFIX],
    );
    return rows.map((r) => r.rolname);
  }

  /** Every role carrying a Stint tag, with the tag read. */
  async function tagged(action: string): Promise<{ principal: string; tag: ParsedComment }[]> {
    try {
      const { rows } = await pool.query<{ rolname: string; comment: string }>(
        `SELECT rolname, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles
          WHERE starts_with(rolname, $1) AND starts_with(shobj_description(oid, 'pg_authid'), $2)
          ORDER BY rolname`,
        [PRINCIPAL_PREFIX, COMMENT_PREFIX],
      );
      return rows.flatMap((r) => {
        const tag = parseComment(r.comment);
        return tag ? [{ principal: r.rolname, tag }] : [];
      });
    } catch (err) {
      throw fail(action, err);
    }
  }

  async function roleExists(principal: string): Promise<boolean> {
    return (await roleComment(principal)).exists;
  }

  /**
   * Signals every backend whose session user is `principal` until none is left. `usename` is the session user,
   * so a session that did `SET ROLE app_admin` is found too. Polls from here rather than using
   * `pg_terminate_backend(pid, timeout)`, which re-checks only every 100 ms (one session: ~102 ms against ~6 ms).
   */
  async function endSessions(principal: string): Promise<number> {
    const deadline = Date.now() + SESSION_END_TIMEOUT_MS;
    const signalled = new Set<number>();
    let delay = 1;
    for (;;) {
      const { rows } = await pool.query<{ pid: number }>(
        'SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1',
        [principal],
      );
      if (rows.length === 0) return signalled.size;
      for (const r of rows) signalled.add(r.pid);
      if (Date.now() > deadline) {
        throw new StintError(
          'PROVIDER_ERROR',
          `postgres target ${resourceId}: ${rows.length} session(s) of ${principal} still alive ${SESSION_END_TIMEOUT_MS} ms after termination`,
          { resource: resourceId },
        );
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 20);
    }
  }

  /**
   * Drops the role once nothing of it runs: what it owns goes to the first role it was granted (so a table made
   * during an incident stays with the team), or to the admin role when it was granted none.
   * Returns false when a session slipped in, so the caller terminates again.
   */
  async function dropRole(principal: string): Promise<boolean> {
    const role = ident(principal);
    const client = await pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ heir: string }>(
        `SELECT coalesce((SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
                          WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = $1)
                          ORDER BY m.ctid LIMIT 1), current_user) AS heir`,
        [principal],
      );
      const heir = rows[0]?.heir as string;
      await client.query(`REASSIGN OWNED BY ${role} TO ${ident(heir)}`);
      await client.query(`DROP OWNED BY ${role}`);
      // Dropping a role that still has a backend would orphan that session (its usename turns NULL): never do it.
      const live = await client.query('SELECT 1 FROM pg_stat_activity WHERE usename = $1 LIMIT 1', [
        principal,
      ]);
      if (live.rows.length > 0) {
        await client.query('ROLLBACK');
        return false;
      }
      await client.query(`DROP ROLE ${role}`);
      await client.query('COMMIT');
      return true;
    } catch (err) {
      broken = await rollback(client, err);
      throw err;
    } finally {
      client.release(broken ? true : undefined);
    }
  }

  /** Revokes of one principal already under way here: a second caller joins the first instead of racing it. */
  const revoking = new Map<string, Promise<void>>();

  function revoke(principal: string): Promise<void> {
    if (!isPrincipalName(principal)) {
      return Promise.reject(
        new StintError(
          'PROVIDER_ERROR',
          `postgres target ${resourceId}: "${principal}" is not a Stint principal name`,
        ),
      );
    }
    const running = revoking.get(principal);
    if (running) return running;
    const done = revokeWithRetry(principal).finally(() => revoking.delete(principal));
    revoking.set(principal, done);
    return done;
  }

  /**
   * Another process revoking the same role makes catalog updates collide ("tuple concurrently updated/deleted"):
   * whichever way the race went, the role gone is success and a role still there is worth another go.
   */
  async function revokeWithRetry(principal: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await revokeOnce(principal);
        return;
      } catch (err) {
        if (isServerError(err) && !(await roleExists(principal).catch(() => true))) return;
        if (attempt < 3 && isCollision(err)) continue;
        throw fail(`revoke ${principal}`, err);
      }
    }
  }

  async function revokeOnce(principal: string): Promise<void> {
    const started = performance.now();
    const role = ident(principal);
    const found = await roleComment(principal);
    if (!found.exists) return;
    const tag = parseComment(found.comment);
    if (tag === null) {
      throw new StintError(
        'PROVIDER_ERROR',
        `postgres target ${resourceId}: refusing to revoke role ${principal}: Stint did not create it (no ${COMMENT_PREFIX} comment)`,
        { resource: resourceId },
      );
    }
    if (tag.storeId !== null && tag.storeId !== owner.storeId) {
      throw new StintError(
        'PROVIDER_ERROR',
        `postgres target ${resourceId}: refusing to revoke role ${principal}: another Stint store (${tag.storeId}, deployment ${tag.deployment ?? 'unnamed'}) created it`,
        { resource: resourceId },
      );
    }
    // No new logins from here on. The membership lets the admin role signal the role's backends and reassign
    // what it owns without pg_signal_backend or standing membership in the team roles; it goes with the role.
    await pool.query(`ALTER ROLE ${role} NOLOGIN; GRANT ${role} TO CURRENT_USER`);
    let terminated = await endSessions(principal);
    const endedMs = performance.now() - started;
    for (let attempt = 1; !(await dropRole(principal)); attempt++) {
      if (attempt === 3) throw new Error(`sessions of ${principal} keep appearing`);
      terminated += await endSessions(principal);
    }
    logger?.info(
      {
        resource: resourceId,
        principal,
        terminated,
        sessionsEndedMs: round(endedMs),
        totalMs: round(performance.now() - started),
      },
      'postgres credential revoked',
    );
  }

  async function issue(input: IssueInput): Promise<IssuedCredential> {
    const principal = principalFor(input.requestId);
    if (Number.isNaN(input.expiresAt.getTime())) {
      throw new StintError(
        'PROVIDER_ERROR',
        `postgres target ${resourceId}: issue ${principal}: invalid expiry`,
      );
    }
    const grants = input.grants.filter((g) => g.length > 0);

    // A role of this name is what an earlier attempt for the same request left; anything else is a name clash
    // (ids that differ only in case or punctuation) and must not be touched.
    let leftover: { exists: boolean; comment: string | null };
    let unsafe: string[];
    try {
      leftover = await roleComment(principal);
      unsafe = await unsafeGrants(grants);
    } catch (err) {
      throw fail(`issue ${principal}`, err);
    }
    if (unsafe.length > 0) {
      throw new StintError(
        'PROVIDER_ERROR',
        `postgres target ${resourceId}: issue ${principal}: refusing to grant ${unsafe.join(', ')}: membership would let the user create or change roles that outlive the revoke`,
        { resource: resourceId },
      );
    }
    if (leftover.exists) {
      const tag = parseComment(leftover.comment);
      if (tag?.requestId !== input.requestId || (tag.storeId !== null && tag.storeId !== owner.storeId)) {
        throw new StintError(
          'PROVIDER_ERROR',
          `postgres target ${resourceId}: issue ${principal}: a role of that name exists for another request`,
          { resource: resourceId },
        );
      }
      await revoke(principal);
    }

    const password = randomBytes(32).toString('base64url');
    const verifier = await scramSha256Verifier(password);
    const secrets = [password, verifier];
    const role = ident(principal);
    const limit =
      opts.connectionLimit === undefined ? '' : ` CONNECTION LIMIT ${Math.trunc(opts.connectionLimit)}`;
    const statements = [
      `CREATE ROLE ${role} WITH LOGIN INHERIT${limit} PASSWORD ${literal(verifier)} VALID UNTIL ${literal(input.expiresAt.toISOString())}`,
      ...grants.map((g) => `GRANT ${ident(g)} TO ${role}`),
      `COMMENT ON ROLE ${role} IS ${literal(commentFor(input.requestId, owner))}`,
    ];

    // One transaction: a failed grant leaves nothing behind.
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw fail(`issue ${principal}`, err, secrets);
    }
    try {
      await client.query('BEGIN');
      for (const sql of statements) await client.query(sql);
      await client.query('COMMIT');
    } catch (err) {
      const broken = await rollback(client, err);
      client.release(broken ? true : undefined);
      if (broken) {
        // The connection died: the server rolled back, unless it was our COMMIT whose answer got lost.
        await revoke(principal).catch((e) =>
          logger?.warn(
            { resource: resourceId, principal, error: fail('cleanup', e).message },
            'postgres issue cleanup failed',
          ),
        );
      }
      throw fail(`issue ${principal}`, err, secrets);
    }
    client.release();

    const hostInUrl = publicHost.includes(':') ? `[${publicHost}]` : publicHost;
    const query = target.sslmode ? `?sslmode=${encodeURIComponent(target.sslmode)}` : '';
    const url = `postgres://${encodeURIComponent(principal)}:${encodeURIComponent(password)}@${hostInUrl}:${publicPort}/${encodeURIComponent(target.database)}${query}`;
    logger?.info(
      {
        resource: resourceId,
        principal,
        requestId: input.requestId,
        grants,
        expiresAt: input.expiresAt.toISOString(),
      },
      'postgres credential issued',
    );
    return {
      principal,
      secret: {
        url,
        username: principal,
        password,
        host: publicHost,
        port: String(publicPort),
        database: target.database,
      },
    };
  }

  return {
    kind: 'postgres',
    principalFor,
    issue,
    revoke,

    async verifyRevoked(principal) {
      try {
        const { rows } = await pool.query<{ role: boolean; sessions: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS role,
                  EXISTS (SELECT 1 FROM pg_stat_activity WHERE usename = $1) AS sessions`,
          [principal],
        );
        const row = rows[0];
        return row !== undefined && !row.role && !row.sessions;
      } catch (err) {
        throw fail(`verify ${principal}`, err);
      }
    },

    async listOwned(): Promise<OwnedPrincipal[]> {
      const owned: OwnedPrincipal[] = [];
      for (const r of await tagged('list owned roles')) {
        const legacy = r.tag.storeId === null;
        // Another store's roles are theirs to reconcile, even under our name; untagged legacy roles are ours
        // only if the caller's store knows their request.
        if (
          legacy
            ? r.tag.deployment !== null && r.tag.deployment !== owner.deployment
            : r.tag.storeId !== owner.storeId
        )
          continue;
        owned.push({ principal: r.principal, requestId: r.tag.requestId || null, legacy });
      }
      return owned;
    },

    async listForeign(): Promise<ForeignPrincipal[]> {
      const foreign: ForeignPrincipal[] = [];
      for (const r of await tagged('list foreign roles')) {
        const { storeId, deployment } = r.tag;
        if (storeId !== null && storeId !== owner.storeId && deployment === owner.deployment)
          foreign.push({ principal: r.principal, storeId });
      }
      return foreign;
    },

    async ping() {
      try {
        await pool.query('SELECT 1');
      } catch (err) {
        throw fail('ping', err);
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/**
 * Rolls back after a failed statement. True when the connection itself is gone (or cannot roll back): the client
 * must then be destroyed, not returned to the pool.
 */
async function rollback(client: pg.PoolClient, err: unknown): Promise<boolean> {
  if (!isServerError(err)) return true;
  try {
    await client.query('ROLLBACK');
    return false;
  } catch {
    return true;
  }
}

/** Two sessions changed the same catalog row at once, or deadlocked: retrying is the documented remedy. */
function isCollision(err: unknown): boolean {
  const state = sqlState(err);
  if (state === '40001' || state === '40P01') return true;
  return state === 'XX000' && /tuple concurrently (updated|deleted)/.test((err as Error).message);
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
