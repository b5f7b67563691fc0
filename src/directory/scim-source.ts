import type { Logger } from '../logger.js';
import type { DirectoryUser } from '../policy/policy-types.js';
import type { StintDatabase } from '../store/database.js';
import type { DirectorySource } from './directory.js';
import { primaryEmail, type ScimUserDoc } from './scim-resources.js';
import { type ScimGroupRow, type ScimUserRow, scimStore } from './scim-store.js';
import { createSourceSnapshot } from './source-snapshot.js';

/** Which SCIM attribute becomes the Stint user id (the name policies use in `who.users`). */
export type ScimIdAttribute = 'userName' | 'externalId' | 'emailLocalPart';

export interface RoleGroups {
  /** Members of this group may fill security slots (compared case-insensitively with group names). */
  security: string;
  auditor: string;
  admin: string;
  /** Members of this group are on call now (rules with `who.onCall`). */
  onCall: string;
}

export interface ScimMapping {
  idAttribute: ScimIdAttribute;
  groups: RoleGroups;
}

function stintId(doc: ScimUserDoc, attr: ScimIdAttribute): string | undefined {
  switch (attr) {
    case 'userName':
      return doc.userName;
    case 'externalId':
      return doc.externalId;
    case 'emailLocalPart':
      return primaryEmail(doc).split('@')[0];
  }
}

export function displayName(doc: ScimUserDoc): string {
  const given = [doc.name?.givenName, doc.name?.familyName].filter(Boolean).join(' ');
  return doc.displayName ?? doc.name?.formatted ?? (given === '' ? doc.userName : given);
}

export function hasGroup(teams: readonly string[], group: string): boolean {
  return teams.some((t) => t.toLowerCase() === group.toLowerCase());
}

/**
 * SCIM rows to directory users, pure. Inactive and deleted users are suspended (see DirectorySource). The
 * manager reference is the manager's SCIM id (RFC 7643 §4.3); a userName is accepted too, as some IdPs send it.
 */
export function scimToDirectory(
  users: readonly ScimUserRow[],
  groups: readonly ScimGroupRow[],
  memberships: readonly { group_id: string; user_id: string }[],
  mapping: ScimMapping,
): { users: Map<string, DirectoryUser>; suspended: Set<string>; unmapped: string[] } {
  const groupName = new Map(groups.map((g) => [g.id, g.displayName]));
  const teamsOf = new Map<string, string[]>();
  for (const m of memberships) {
    const name = groupName.get(m.group_id);
    if (name === undefined) continue;
    teamsOf.set(m.user_id, [...(teamsOf.get(m.user_id) ?? []), name]);
  }
  const idOf = new Map<string, string>();
  const byUserName = new Map<string, string>();
  const unmapped: string[] = [];
  for (const row of users) {
    const id = stintId(row.doc, mapping.idAttribute);
    if (id === undefined || id === '') {
      unmapped.push(row.doc.userName);
      continue;
    }
    idOf.set(row.id, id);
    byUserName.set(row.doc.userName.toLowerCase(), id);
  }
  const out = new Map<string, DirectoryUser>();
  const suspended = new Set<string>();
  for (const row of users) {
    const id = idOf.get(row.id);
    if (id === undefined) continue;
    if (row.deletedAt !== null || !row.doc.active) {
      suspended.add(id);
      continue;
    }
    const ref = row.doc.enterprise?.manager?.value;
    const manager = ref === undefined ? null : (idOf.get(ref) ?? byUserName.get(ref.toLowerCase()) ?? null);
    const teams = [...new Set(teamsOf.get(row.id) ?? [])].sort();
    out.set(id, {
      id,
      email: primaryEmail(row.doc),
      name: displayName(row.doc),
      manager,
      teams,
      security: hasGroup(teams, mapping.groups.security),
      auditor: hasGroup(teams, mapping.groups.auditor),
      admin: hasGroup(teams, mapping.groups.admin),
      onCall: hasGroup(teams, mapping.groups.onCall),
    });
  }
  // A live user wins over a tombstone that maps to the same id (re-provisioned under a new SCIM id).
  for (const id of out.keys()) suspended.delete(id);
  return { users: out, suspended, unmapped };
}

export interface ScimSource extends DirectorySource {
  /** Re-reads the store; call after every SCIM write and periodically (other servers write too). */
  load(): Promise<void>;
}

export function createScimSource(deps: {
  store: StintDatabase;
  mapping: ScimMapping;
  logger: Logger;
  clock?: () => Date;
}): ScimSource {
  const snapshot = createSourceSnapshot('scim', deps.clock ?? (() => new Date()));

  return {
    ...snapshot.source,
    health: snapshot.health,
    async load() {
      try {
        const db = deps.store.db;
        const [rows, groups, memberships] = await Promise.all([
          scimStore.listUsers(db, { withTombstones: true }),
          scimStore.listGroups(db),
          scimStore.memberships(db),
        ]);
        const next = scimToDirectory(rows, groups, memberships, deps.mapping);
        if (next.unmapped.length > 0) {
          deps.logger.warn(
            { users: next.unmapped, idAttribute: deps.mapping.idAttribute },
            'SCIM users without the id attribute are left out of the directory',
          );
        }
        snapshot.loaded(next.users, next.suspended);
      } catch (err) {
        snapshot.failed('could not read SCIM users from the store');
        deps.logger.error({ err }, 'SCIM directory load failed; keeping the last snapshot');
      }
    },
  };
}
