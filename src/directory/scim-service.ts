import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { AuditWriter } from '../audit/audit-writer.js';
import type { Clock } from '../domain/clock.js';
import type { StintDatabase } from '../store/database.js';
import type { Database } from '../store/schema.js';
import { badRequest, notFound, ScimError } from './scim-errors.js';
import { listResponse, parseFilter, parsePage, type ScimFilter } from './scim-list.js';
import { applyPatch, parsePatch } from './scim-patch.js';
import {
  ENTERPRISE_SCHEMA,
  GROUP_SCHEMA,
  groupResource,
  parseGroup,
  parseUser,
  type ScimGroupDoc,
  type ScimUserDoc,
  userResource,
} from './scim-resources.js';
import { type ScimGroupRow, type ScimUserRow, scimStore } from './scim-store.js';

type Db = Kysely<Database> | Transaction<Database>;
type Json = Record<string, unknown>;

export const MAX_PAGE = 200;
const USER_FILTERS = ['userName', 'externalId', 'id', 'emails.value', 'emails', 'displayName'] as const;
const GROUP_FILTERS = ['displayName', 'externalId', 'id'] as const;

/** The audit actor of changes pushed by the identity provider. */
export const SCIM_ACTOR = 'scim';

/** What the audit trail keeps of a written resource: who, which groups, active; never the whole payload. */
function summary(resource: Json): Record<string, unknown> {
  const pick = (k: string) => (resource[k] === undefined ? {} : { [k]: resource[k] });
  const values = (k: string) =>
    Array.isArray(resource[k]) ? { [k]: (resource[k] as { display?: unknown }[]).map((m) => m.display) } : {};
  return {
    ...pick('userName'),
    ...pick('active'),
    ...pick('displayName'),
    ...values('groups'),
    ...values('members'),
  };
}

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export interface ScimServiceDeps {
  store: StintDatabase;
  /** The audit module's writer: every SCIM change is recorded in its transaction. */
  audit: AuditWriter;
  clock: Clock;
  /**
   * Awaited after every committed change, before the IdP gets its answer: a person the IdP has just removed is
   * out of the directory (and their grants are being revoked) by the time it hears "204".
   */
  onChange(): Promise<void>;
  /** Prefix of meta.location. */
  baseUrl?: string;
}

export interface ListQuery {
  filter?: string;
  startIndex?: unknown;
  count?: unknown;
}

const same = (a: string | undefined, b: string, caseExact: boolean) =>
  a !== undefined && (caseExact ? a === b : a.toLowerCase() === b.toLowerCase());

function userMatches(row: ScimUserRow, f: ScimFilter): boolean {
  switch (f.attr) {
    case 'userName':
      return same(row.doc.userName, f.value, false);
    case 'externalId':
      return same(row.doc.externalId, f.value, true);
    case 'id':
      return row.id === f.value;
    case 'displayName':
      return same(row.doc.displayName, f.value, false);
    default:
      return row.doc.emails.some((e) => same(e.value, f.value, false));
  }
}

function groupMatches(row: ScimGroupRow, f: ScimFilter): boolean {
  switch (f.attr) {
    case 'displayName':
      return same(row.displayName, f.value, false);
    case 'externalId':
      return same(row.externalId ?? undefined, f.value, true);
    default:
      return row.id === f.value;
  }
}

/** SCIM 2.0 Users and Groups over the store: every write is one short transaction, validated before it. */
export function createScimService(deps: ScimServiceDeps) {
  const db = deps.store.db;
  const lock = deps.store.traits.rowLocks;
  const base = deps.baseUrl ?? '/scim/v2';

  async function groupsByUser(q: Db): Promise<Map<string, { id: string; displayName: string }[]>> {
    const groups = new Map((await scimStore.listGroups(q)).map((g) => [g.id, g]));
    const out = new Map<string, { id: string; displayName: string }[]>();
    for (const m of await scimStore.memberships(q)) {
      const g = groups.get(m.group_id);
      if (g === undefined) continue;
      const list = out.get(m.user_id) ?? [];
      list.push({ id: g.id, displayName: g.displayName });
      out.set(m.user_id, list);
    }
    return out;
  }

  function renderUser(row: ScimUserRow, groups: readonly { id: string; displayName: string }[]): Json {
    return userResource(row.id, row.doc, groups, {
      resourceType: 'User',
      created: row.createdAt,
      lastModified: row.updatedAt,
      version: row.version,
      location: `${base}/Users/${row.id}`,
    });
  }

  async function readUser(q: Db, id: string): Promise<Json> {
    const row = await scimStore.getUser(q, id);
    if (row === undefined) throw notFound(`User ${id}`);
    return renderUser(row, (await groupsByUser(q)).get(id) ?? []);
  }

  async function membersOf(q: Db): Promise<Map<string, { id: string; userName: string }[]>> {
    const users = new Map((await scimStore.listUsers(q)).map((u) => [u.id, u]));
    const out = new Map<string, { id: string; userName: string }[]>();
    for (const m of await scimStore.memberships(q)) {
      const u = users.get(m.user_id);
      if (u === undefined) continue;
      const list = out.get(m.group_id) ?? [];
      list.push({ id: u.id, userName: u.doc.userName });
      out.set(m.group_id, list);
    }
    return out;
  }

  function renderGroup(row: ScimGroupRow, members: readonly { id: string; userName: string }[]): Json {
    const doc: ScimGroupDoc = {
      displayName: row.displayName,
      members: members.map((m) => m.id),
      ...(row.externalId === null ? {} : { externalId: row.externalId }),
    };
    return groupResource(row.id, doc, members, {
      resourceType: 'Group',
      created: row.createdAt,
      lastModified: row.updatedAt,
      version: row.version,
      location: `${base}/Groups/${row.id}`,
    });
  }

  async function readGroup(q: Db, id: string): Promise<Json> {
    const row = await scimStore.getGroup(q, id);
    if (row === undefined) throw notFound(`Group ${id}`);
    return renderGroup(row, (await membersOf(q)).get(id) ?? []);
  }

  /** userName is unique among live users; a tombstone holding it gives way to the new person. */
  async function claimUserName(trx: Db, userName: string, self: string | null): Promise<void> {
    const holder = await scimStore.findUserByName(trx, userName);
    if (holder === undefined || holder.id === self) return;
    if (holder.deletedAt === null) {
      throw new ScimError(409, `userName ${userName} is already taken`, 'uniqueness');
    }
    await scimStore.purgeUser(trx, holder.id);
  }

  async function checkMembers(trx: Db, members: readonly string[]): Promise<void> {
    if (members.length === 0) return;
    const live = new Set((await scimStore.listUsers(trx)).map((u) => u.id));
    const missing = members.filter((m) => !live.has(m));
    if (missing.length > 0) {
      throw badRequest(`members must be existing users; unknown: ${missing.join(', ')}`, 'invalidValue');
    }
  }

  /**
   * Runs one write with its audit event (same transaction: recorded together or not at all) and, after it
   * commits, lets the directory catch up. Who joins the security group is as much an audit fact as a grant.
   */
  async function write<T extends Json | undefined>(
    action: string,
    id: string,
    fn: (trx: Transaction<Database>) => Promise<T>,
  ): Promise<T> {
    let result: T;
    try {
      result = await db.transaction().execute(async (trx) => {
        const out = await fn(trx);
        await deps.audit.append(trx, {
          at: deps.clock(),
          actor: SCIM_ACTOR,
          action,
          requestId: null,
          details: { id, ...(out === undefined ? {} : summary(out)) },
        });
        return out;
      });
    } catch (err) {
      // Two IdP calls racing for one userName: the unique index decides; answer as SCIM says.
      if (isUniqueViolation(err))
        throw new ScimError(409, 'a resource with this name already exists', 'uniqueness');
      throw err;
    }
    await deps.onChange();
    return result;
  }

  async function saveUser(trx: Transaction<Database>, id: string, doc: ScimUserDoc): Promise<void> {
    await claimUserName(trx, doc.userName, id);
    await scimStore.updateUser(trx, id, doc, deps.clock());
  }

  async function saveGroup(trx: Transaction<Database>, id: string, doc: ScimGroupDoc): Promise<void> {
    await checkMembers(trx, doc.members);
    await scimStore.updateGroup(
      trx,
      { id, displayName: doc.displayName, externalId: doc.externalId ?? null },
      deps.clock(),
    );
    await scimStore.setMembers(trx, id, doc.members);
  }

  return {
    async createUser(body: unknown): Promise<Json> {
      const doc = parseUser(body);
      const id = randomUUID();
      return write('directory.user_provisioned', id, async (trx) => {
        await claimUserName(trx, doc.userName, null);
        await scimStore.insertUser(trx, id, doc, deps.clock());
        return readUser(trx, id);
      });
    },

    getUser: (id: string) => readUser(db, id),

    async listUsers(query: ListQuery): Promise<Json> {
      const filter = query.filter === undefined ? undefined : parseFilter(query.filter, USER_FILTERS);
      const page = parsePage(query, MAX_PAGE);
      const rows = (await scimStore.listUsers(db)).filter(
        (r) => filter === undefined || userMatches(r, filter),
      );
      const groups = await groupsByUser(db);
      return listResponse(
        rows.map((r) => renderUser(r, groups.get(r.id) ?? [])),
        page,
      );
    },

    async replaceUser(id: string, body: unknown): Promise<Json> {
      const doc = parseUser(body);
      return write('directory.user_updated', id, async (trx) => {
        if ((await scimStore.getUser(trx, id, { lock })) === undefined) throw notFound(`User ${id}`);
        await saveUser(trx, id, doc);
        return readUser(trx, id);
      });
    },

    async patchUser(id: string, body: unknown): Promise<Json> {
      const ops = parsePatch(body);
      return write('directory.user_updated', id, async (trx) => {
        const row = await scimStore.getUser(trx, id, { lock });
        if (row === undefined) throw notFound(`User ${id}`);
        const { groups: _groups, ...current } = userResource(row.id, row.doc, []);
        const doc = parseUser(applyPatch(current, ops, [ENTERPRISE_SCHEMA]));
        await saveUser(trx, id, doc);
        return readUser(trx, id);
      });
    },

    async deleteUser(id: string): Promise<void> {
      await write('directory.user_deprovisioned', id, async (trx) => {
        const row = await scimStore.getUser(trx, id, { lock });
        if (row === undefined) throw notFound(`User ${id}`);
        await scimStore.tombstoneUser(trx, id, deps.clock());
        return { userName: row.doc.userName };
      });
    },

    async createGroup(body: unknown): Promise<Json> {
      const doc = parseGroup(body);
      const id = randomUUID();
      return write('directory.group_created', id, async (trx) => {
        await checkMembers(trx, doc.members);
        await scimStore.insertGroup(
          trx,
          { id, displayName: doc.displayName, externalId: doc.externalId ?? null },
          deps.clock(),
        );
        await scimStore.setMembers(trx, id, doc.members);
        return readGroup(trx, id);
      });
    },

    getGroup: (id: string) => readGroup(db, id),

    async listGroups(query: ListQuery): Promise<Json> {
      const filter = query.filter === undefined ? undefined : parseFilter(query.filter, GROUP_FILTERS);
      const page = parsePage(query, MAX_PAGE);
      const rows = (await scimStore.listGroups(db)).filter(
        (r) => filter === undefined || groupMatches(r, filter),
      );
      const members = await membersOf(db);
      return listResponse(
        rows.map((r) => renderGroup(r, members.get(r.id) ?? [])),
        page,
      );
    },

    async replaceGroup(id: string, body: unknown): Promise<Json> {
      const doc = parseGroup(body);
      return write('directory.group_updated', id, async (trx) => {
        if ((await scimStore.getGroup(trx, id, { lock })) === undefined) throw notFound(`Group ${id}`);
        await saveGroup(trx, id, doc);
        return readGroup(trx, id);
      });
    },

    async patchGroup(id: string, body: unknown): Promise<Json> {
      const ops = parsePatch(body);
      return write('directory.group_updated', id, async (trx) => {
        const row = await scimStore.getGroup(trx, id, { lock });
        if (row === undefined) throw notFound(`Group ${id}`);
        const members = (await membersOf(trx)).get(id) ?? [];
        const current: Json = {
          schemas: [GROUP_SCHEMA],
          displayName: row.displayName,
          ...(row.externalId === null ? {} : { externalId: row.externalId }),
          members: members.map((m) => ({ value: m.id })),
        };
        await saveGroup(trx, id, parseGroup(applyPatch(current, ops, [])));
        return readGroup(trx, id);
      });
    },

    async deleteGroup(id: string): Promise<void> {
      await write('directory.group_deleted', id, async (trx) => {
        const row = await scimStore.getGroup(trx, id, { lock });
        if (row === undefined) throw notFound(`Group ${id}`);
        await scimStore.deleteGroup(trx, id);
        return { displayName: row.displayName };
      });
    },
  };
}

export type ScimService = ReturnType<typeof createScimService>;
