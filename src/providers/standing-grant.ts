import { StintError } from '../domain/errors.js';

/**
 * The one kind of standing privilege the conversion takes away: a role held by membership, as `listStanding`
 * printed it (`member of app_admin`, `role app_admin WITH ADMIN OPTION`). Attributes (`SUPERUSER`), ownership and
 * global privileges are left to a person: Stint's least-privileged admin cannot, and should not, change them.
 */
export function roleOfStandingGrant(
  kind: string,
  resourceId: string,
  privilege: string,
  word: 'member of' | 'role',
): string {
  const match = new RegExp(`^${word} ([^\\s()]+)(?: WITH ADMIN OPTION)?$`).exec(privilege);
  if (!match?.[1]) {
    throw new StintError(
      'PROVIDER_ERROR',
      `${kind} target ${resourceId}: Stint removes only role memberships ("${word} <role>"), not "${privilege}": ` +
        'change that by hand as the target’s owner',
      { resource: resourceId, class: 'refused' },
    );
  }
  return match[1];
}

/** A refusal that changed nothing, in the words the operator acts on. */
export function refusedStanding(kind: string, resourceId: string, message: string): StintError {
  return new StintError('PROVIDER_ERROR', `${kind} target ${resourceId}: ${message}`, {
    resource: resourceId,
    class: 'refused',
  });
}
