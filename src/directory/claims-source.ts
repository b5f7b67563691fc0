import { StintError } from '../domain/errors.js';
import type { IdTokenClaims } from '../identity/oidc-client.js';
import type { ResolveUser } from '../identity/resolve-user.js';
import type { Logger } from '../logger.js';
import { isPolicyId } from '../policy/policy-schema.js';
import type { DirectoryUser } from '../policy/policy-types.js';
import type { StintDatabase } from '../store/database.js';
import type { DirectorySource } from './directory.js';
import { hasGroup, type RoleGroups } from './scim-source.js';
import { createSourceSnapshot } from './source-snapshot.js';

/** Which ID-token claims carry the directory facts (STINT_OIDC_CLAIM_*). */
export interface ClaimNames {
  /** The Stint user id of someone not yet in the directory (default `preferred_username`). */
  id: string;
  /** The manager's Stint user id (default `manager`). */
  manager: string;
  /** Group names: teams, and the role groups (default `groups`). */
  groups: string;
}

/** What one sign-in says about a person, checked; the row of `oidc_profiles`. */
export interface ClaimsProfile {
  userId: string;
  email: string;
  name: string;
  manager: string | null;
  groups: string[];
  issuer: string;
  subject: string;
}

/** More would be a provider sending something other than group names (or a token crafted to be huge). */
const MAX_GROUPS = 500;
const MAX_GROUP_NAME = 256;

const invalid = (message: string) => new StintError('CLAIMS_INVALID', message);

/**
 * The facts the claims carry, checked before anything is written, pure. A claim that is present but not of the
 * expected shape refuses the sign-in: silently dropping a malformed groups claim would strip someone's teams.
 */
export function factsFromClaims(
  claims: IdTokenClaims,
  names: ClaimNames,
): { manager: string | null; groups: string[]; name: string | null } {
  const rawManager = claims[names.manager];
  let manager: string | null = null;
  if (rawManager !== undefined && rawManager !== null) {
    if (typeof rawManager !== 'string' || !isPolicyId(rawManager)) {
      throw invalid(
        `the "${names.manager}" claim must be the manager's user id (lowercase letters, digits, . _ -)`,
      );
    }
    manager = rawManager;
  }
  const rawGroups = claims[names.groups];
  let groups: string[] = [];
  if (rawGroups !== undefined && rawGroups !== null) {
    if (
      !Array.isArray(rawGroups) ||
      rawGroups.length > MAX_GROUPS ||
      !rawGroups.every((g) => typeof g === 'string' && g !== '' && g.length <= MAX_GROUP_NAME)
    ) {
      throw invalid(`the "${names.groups}" claim must be a list of at most ${MAX_GROUPS} group names`);
    }
    groups = [...new Set(rawGroups as string[])].sort();
  }
  const name = typeof claims.name === 'string' && claims.name.trim() !== '' ? claims.name.trim() : null;
  return { manager, groups, name };
}

/** A stored profile as a directory user: teams are the group names, roles membership of the role groups. */
export function profileToUser(
  p: Omit<ClaimsProfile, 'issuer' | 'subject'>,
  roles: RoleGroups,
): DirectoryUser {
  return {
    id: p.userId,
    email: p.email,
    name: p.name,
    manager: p.manager,
    teams: p.groups,
    security: hasGroup(p.groups, roles.security),
    auditor: hasGroup(p.groups, roles.auditor),
    admin: hasGroup(p.groups, roles.admin),
    onCall: hasGroup(p.groups, roles.onCall),
  };
}

export interface ClaimsSource extends DirectorySource {
  /** Re-reads the store; other servers sharing it record sign-ins too. */
  load(): Promise<void>;
  /** Replaces the person's facts with these, then reloads. */
  record(profile: ClaimsProfile, now: Date): Promise<void>;
}

export function createClaimsSource(deps: {
  store: StintDatabase;
  roles: RoleGroups;
  logger: Logger;
  clock?: () => Date;
}): ClaimsSource {
  const snapshot = createSourceSnapshot('oidc-claims', deps.clock ?? (() => new Date()));

  async function load(): Promise<void> {
    try {
      const rows = await deps.store.db.selectFrom('oidc_profiles').selectAll().orderBy('user_id').execute();
      const next = new Map<string, DirectoryUser>();
      for (const r of rows) {
        next.set(
          r.user_id,
          profileToUser(
            {
              userId: r.user_id,
              email: r.email,
              name: r.name,
              manager: r.manager,
              groups: JSON.parse(r.groups) as string[],
            },
            deps.roles,
          ),
        );
      }
      snapshot.loaded(next);
    } catch (err) {
      snapshot.failed('could not read OIDC profiles from the store');
      deps.logger.error({ err }, 'OIDC claims directory load failed; keeping the last snapshot');
    }
  }

  return {
    ...snapshot.source,
    health: snapshot.health,
    load,
    async record(p, now) {
      const row = {
        email: p.email,
        name: p.name,
        manager: p.manager,
        groups: JSON.stringify(p.groups),
        issuer: p.issuer,
        subject: p.subject,
        updated_at: now.getTime(),
      };
      await deps.store.db
        .insertInto('oidc_profiles')
        .values({ user_id: p.userId, ...row })
        .onConflict((oc) => oc.column('user_id').doUpdateSet(row))
        .execute();
      await load();
    },
  };
}

/**
 * Sign-in with claims as a directory source. An existing directory person is matched as before (`match`, by
 * email); otherwise a new person is made from the claims, with the id claim as their user id. Either way the
 * sign-in's facts are recorded, unless SCIM or LDAP describes the person (a record there would be shadowed, and
 * would bring them back when that source removes them). Bad claims refuse the sign-in before anything is written.
 */
export function claimsResolver(deps: {
  source: Pick<ClaimsSource, 'record' | 'users'>;
  /** Matches the sign-in to a person already in the merged directory (resolveByEmail). */
  match: ResolveUser;
  /** The merged directory now. */
  directory: () => ReadonlyMap<string, DirectoryUser>;
  /** Whether a source above the claims (SCIM, LDAP) lists or suspends this id. */
  heldAbove: (id: string) => boolean;
  names: ClaimNames;
  clock: () => Date;
}): ResolveUser {
  return async (claims) => {
    const facts = factsFromClaims(claims, deps.names);
    const found = await deps.match(claims);
    const issuer = String(claims.iss ?? '');
    const subject = String(claims.sub ?? '');
    if (found) {
      if (deps.heldAbove(found.userId)) return found;
      const user = deps.directory().get(found.userId);
      if (user === undefined) return found;
      await deps.source.record(
        {
          userId: user.id,
          // The address the person was matched by stays theirs: a claim cannot move them to another one.
          email: user.email,
          name: facts.name ?? user.name,
          manager: facts.manager,
          groups: facts.groups,
          issuer,
          subject,
        },
        deps.clock(),
      );
      return found;
    }
    const email = claims.email;
    if (typeof email !== 'string' || email === '' || claims.email_verified !== true) {
      throw invalid(
        'a new person needs a verified "email" claim (email_verified: true) to join the directory',
      );
    }
    const id = claims[deps.names.id];
    if (typeof id !== 'string' || !isPolicyId(id)) {
      throw invalid(
        `the "${deps.names.id}" claim must be a user id: at most 64 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit`,
      );
    }
    if (deps.directory().has(id) || deps.source.users().has(id) || deps.heldAbove(id)) {
      // Someone else's id (their email differs): taking it would sign this person in as them.
      throw new StintError(
        'UNKNOWN_IDENTITY',
        `the user id "${id}" belongs to another person in the directory`,
      );
    }
    await deps.source.record(
      {
        userId: id,
        email,
        name: facts.name ?? id,
        manager: facts.manager,
        groups: facts.groups,
        issuer,
        subject,
      },
      deps.clock(),
    );
    return { userId: id };
  };
}
