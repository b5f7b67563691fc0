import type { Kysely, Transaction } from 'kysely';
import type { RequestState } from '../domain/request.js';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface OwnershipRow {
  state: RequestState;
  /** The request's grant, when it has one. */
  grant: { principal: string; revocation: string } | null;
}

/**
 * Request states and their grants in one statement, so one snapshot: read in two queries, an activation
 * committed between them would show the grant without its `active` state (or the reverse) and look orphaned.
 */
export async function ownershipSnapshot(db: Db, requestIds: string[]): Promise<Map<string, OwnershipRow>> {
  if (requestIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('requests')
    .leftJoin('grants', 'grants.request_id', 'requests.id')
    .select([
      'requests.id as id',
      'requests.state as state',
      'grants.principal as principal',
      'grants.revocation as revocation',
    ])
    .where('requests.id', 'in', requestIds)
    .execute();
  return new Map(
    rows.map((r) => [
      r.id,
      {
        state: r.state as RequestState,
        grant:
          r.principal === null || r.revocation === null
            ? null
            : { principal: r.principal, revocation: r.revocation },
      },
    ]),
  );
}

/** Grants of `resource` that are live in Stint: the request active, the credential not being removed. */
export async function liveGrants(
  db: Db,
  resource: string,
): Promise<{ requestId: string; principal: string }[]> {
  const rows = await db
    .selectFrom('grants')
    .innerJoin('requests', 'requests.id', 'grants.request_id')
    .select(['grants.request_id as requestId', 'grants.principal as principal'])
    .where('grants.resource', '=', resource)
    .where('grants.revocation', '=', 'none')
    .where('requests.state', '=', 'active')
    .execute();
  return rows;
}
