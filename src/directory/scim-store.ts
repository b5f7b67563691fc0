import type { Kysely, Transaction } from 'kysely';
import type { Database, ScimGroupsTable, ScimUsersTable } from '../store/schema.js';
import type { ScimUserDoc } from './scim-resources.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface ScimUserRow {
  id: string;
  doc: ScimUserDoc;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

export interface ScimGroupRow {
  id: string;
  displayName: string;
  externalId: string | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

const userRow = (r: ScimUsersTable): ScimUserRow => ({
  id: r.id,
  doc: JSON.parse(r.resource) as ScimUserDoc,
  version: Number(r.version),
  createdAt: new Date(Number(r.created_at)),
  updatedAt: new Date(Number(r.updated_at)),
  deletedAt: r.deleted_at === null ? null : new Date(Number(r.deleted_at)),
});

const groupRow = (r: ScimGroupsTable): ScimGroupRow => ({
  id: r.id,
  displayName: r.display_name,
  externalId: r.external_id,
  version: Number(r.version),
  createdAt: new Date(Number(r.created_at)),
  updatedAt: new Date(Number(r.updated_at)),
});

export const userNameKey = (userName: string) => userName.trim().toLowerCase();

/** Data access for SCIM users, groups and memberships; one set of queries for SQLite and PostgreSQL. */
export const scimStore = {
  /** Live users only, unless `withTombstones` (the directory needs those to keep removed people out). */
  async listUsers(db: Db, opts: { withTombstones?: boolean } = {}): Promise<ScimUserRow[]> {
    let q = db.selectFrom('scim_users').selectAll().orderBy('created_at').orderBy('id');
    if (!opts.withTombstones) q = q.where('deleted_at', 'is', null);
    return (await q.execute()).map(userRow);
  },

  /** `lock` (PostgreSQL only: SQLite serialises writers) holds the row until commit for read-modify-write. */
  async getUser(db: Db, id: string, opts: { lock?: boolean } = {}): Promise<ScimUserRow | undefined> {
    let q = db.selectFrom('scim_users').selectAll().where('id', '=', id).where('deleted_at', 'is', null);
    if (opts.lock) q = q.forUpdate();
    const r = await q.executeTakeFirst();
    return r ? userRow(r) : undefined;
  },

  /** Any row holding this userName, tombstones included. */
  async findUserByName(db: Db, userName: string): Promise<ScimUserRow | undefined> {
    const r = await db
      .selectFrom('scim_users')
      .selectAll()
      .where('user_name_key', '=', userNameKey(userName))
      .executeTakeFirst();
    return r ? userRow(r) : undefined;
  },

  async insertUser(db: Db, id: string, doc: ScimUserDoc, now: Date): Promise<void> {
    await db
      .insertInto('scim_users')
      .values({
        id,
        user_name: doc.userName,
        user_name_key: userNameKey(doc.userName),
        external_id: doc.externalId ?? null,
        active: doc.active ? 1 : 0,
        resource: JSON.stringify(doc),
        version: 1,
        created_at: now.getTime(),
        updated_at: now.getTime(),
        deleted_at: null,
      })
      .execute();
  },

  async updateUser(db: Db, id: string, doc: ScimUserDoc, now: Date): Promise<void> {
    await db
      .updateTable('scim_users')
      .set((eb) => ({
        user_name: doc.userName,
        user_name_key: userNameKey(doc.userName),
        external_id: doc.externalId ?? null,
        active: doc.active ? 1 : 0,
        resource: JSON.stringify(doc),
        version: eb('version', '+', 1),
        updated_at: now.getTime(),
      }))
      .where('id', '=', id)
      .execute();
  },

  /** Leaves a tombstone and drops the person from every group. */
  async tombstoneUser(db: Db, id: string, now: Date): Promise<void> {
    await db.deleteFrom('scim_memberships').where('user_id', '=', id).execute();
    await db
      .updateTable('scim_users')
      .set((eb) => ({
        deleted_at: now.getTime(),
        active: 0,
        version: eb('version', '+', 1),
        updated_at: now.getTime(),
      }))
      .where('id', '=', id)
      .execute();
  },

  async purgeUser(db: Db, id: string): Promise<void> {
    await db.deleteFrom('scim_memberships').where('user_id', '=', id).execute();
    await db.deleteFrom('scim_users').where('id', '=', id).execute();
  },

  async listGroups(db: Db): Promise<ScimGroupRow[]> {
    return (await db.selectFrom('scim_groups').selectAll().orderBy('created_at').orderBy('id').execute()).map(
      groupRow,
    );
  },

  /** `lock` as for getUser: two PATCHes of one group's members must not lose each other's change. */
  async getGroup(db: Db, id: string, opts: { lock?: boolean } = {}): Promise<ScimGroupRow | undefined> {
    let q = db.selectFrom('scim_groups').selectAll().where('id', '=', id);
    if (opts.lock) q = q.forUpdate();
    const r = await q.executeTakeFirst();
    return r ? groupRow(r) : undefined;
  },

  async insertGroup(db: Db, g: { id: string; displayName: string; externalId: string | null }, now: Date) {
    await db
      .insertInto('scim_groups')
      .values({
        id: g.id,
        display_name: g.displayName,
        external_id: g.externalId,
        version: 1,
        created_at: now.getTime(),
        updated_at: now.getTime(),
      })
      .execute();
  },

  async updateGroup(db: Db, g: { id: string; displayName: string; externalId: string | null }, now: Date) {
    await db
      .updateTable('scim_groups')
      .set((eb) => ({
        display_name: g.displayName,
        external_id: g.externalId,
        version: eb('version', '+', 1),
        updated_at: now.getTime(),
      }))
      .where('id', '=', g.id)
      .execute();
  },

  async deleteGroup(db: Db, id: string): Promise<void> {
    await db.deleteFrom('scim_memberships').where('group_id', '=', id).execute();
    await db.deleteFrom('scim_groups').where('id', '=', id).execute();
  },

  async setMembers(db: Db, groupId: string, userIds: readonly string[]): Promise<void> {
    await db.deleteFrom('scim_memberships').where('group_id', '=', groupId).execute();
    if (userIds.length > 0) {
      await db
        .insertInto('scim_memberships')
        .values(userIds.map((user_id) => ({ group_id: groupId, user_id })))
        .execute();
    }
  },

  async memberships(db: Db): Promise<{ group_id: string; user_id: string }[]> {
    return db.selectFrom('scim_memberships').selectAll().execute();
  },
};
