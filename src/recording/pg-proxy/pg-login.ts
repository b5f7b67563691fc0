import type { SecretBox } from '../../crypto/secret-box.js';
import type { Clock } from '../../domain/clock.js';
import type { AccessRequest } from '../../domain/request.js';
import { keptAad } from '../../grants/issuer.js';
import type { PolicySource } from '../../policy/policy-source.js';
import type { Resource } from '../../policy/policy-types.js';
import type { PostgresOptions } from '../../providers/postgres/index.js';
import type { StintDatabase } from '../../store/database.js';
import type { RequestStore } from '../../store/request-store.js';
import { parseVerifier, type ScramVerifier } from './scram.js';
import type { UpstreamTarget } from './upstream.js';

export type ProxiedPostgres = Resource & {
  options: PostgresOptions & { proxy: NonNullable<PostgresOptions['proxy']> };
};

/** A live grant a client may use through the proxy, and what the proxy logs in to the target with. */
export interface PgGrant {
  request: AccessRequest;
  resource: ProxiedPostgres;
  /** The grant's role on the target: the user name the client connects with. */
  principal: string;
  expiresAt: Date;
  /** Of the grant's proxy secret (the user's "password"): the proxy never holds the secret itself. */
  verifier: ScramVerifier;
  /** The role's real password: never shown, kept sealed in the store until the grant ends. */
  password: string;
  target: UpstreamTarget;
  /** The resource's database, when the client names none. */
  database: string;
}

/** Why a client was refused: logged and audited, never told (the client learns 28P01 as for a wrong secret). */
export class PgLoginRefused extends Error {
  override readonly name = 'PgLoginRefused';
  constructor(
    message: string,
    readonly requestId: string | null = null,
  ) {
    super(message);
  }
}

export interface PgLoginDeps {
  store: StintDatabase;
  requests: Pick<RequestStore, 'get'>;
  policy: PolicySource;
  secrets: SecretBox;
  clock: Clock;
}

/**
 * The grant behind a client's user name, read from the store all servers share (a revoke anywhere shows at once):
 * the role must be a live grant's, its request active and inside its window, on a PostgreSQL resource whose policy
 * sends sessions through the proxy, and its kept credential still there (cleared when the grant ends).
 */
export async function findPgGrant(deps: PgLoginDeps, user: string): Promise<PgGrant> {
  const db = deps.store.db;
  const row = await db
    .selectFrom('grants')
    .select(['request_id', 'kept_enc', 'revocation'])
    .where('principal', '=', user)
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!row) throw new PgLoginRefused(`no grant has the role ${JSON.stringify(user.slice(0, 64))}`);
  const id = row.request_id;
  const refuse = (why: string) => new PgLoginRefused(why, id);
  if (row.revocation !== 'none') throw refuse('the grant has ended');
  const request = await deps.requests.get(db, id);
  if (!request) throw refuse('the grant’s request is gone');
  if (request.state !== 'active') throw refuse(`the grant is ${request.state}`);
  const now = deps.clock().getTime();
  if (!request.expiresAt || request.expiresAt.getTime() <= now) throw refuse('the grant’s window has ended');
  const resource = deps.policy.current().resources.get(request.resource);
  if (resource?.kind !== 'postgres') throw refuse('the grant is not on a PostgreSQL resource in the policy');
  const options = resource.options as PostgresOptions;
  if (!options.proxy) throw refuse('the resource does not send sessions through the proxy');
  if (!row.kept_enc)
    throw refuse('the grant has no credential kept for the proxy (issued before it was proxied)');
  let kept: Record<string, string>;
  try {
    kept = JSON.parse(deps.secrets.open(row.kept_enc, keptAad(id))) as Record<string, string>;
  } catch {
    throw refuse('the kept credential does not open');
  }
  const { password, proxyVerifier, host, port, database, sslmode } = kept;
  if (!password || !proxyVerifier || !host || !port || !database)
    throw refuse('the kept credential is incomplete');
  return {
    request,
    resource: resource as ProxiedPostgres,
    principal: user,
    expiresAt: request.expiresAt,
    verifier: parseVerifier(proxyVerifier),
    password,
    target: { host, port: Number(port), sslmode: sslmode || null },
    database,
  };
}
