import type { AwsTarget } from '../aws-target.js';
import { allEntries, type RoleEntry, roleEntries } from './role-ledger.js';

/**
 * Where each principal's record lives. A grant's revoke is told only its principal, and a resource spans every
 * role of an account: the role is remembered from issue, else found by reading the ledger of every role under the
 * path prefix (after a restart, until the first reconciliation has read them all).
 */
export class RoleIndex {
  private readonly roles = new Map<string, string>();

  learn(entries: readonly RoleEntry[]): void {
    for (const e of entries) this.roles.set(e.principal, e.roleName);
  }

  remember(principal: string, roleName: string): void {
    this.roles.set(principal, roleName);
  }

  /** Every store's entries for a principal (another store's too: revoke must refuse those, not miss them). */
  async find(t: AwsTarget, principal: string, signal: AbortSignal): Promise<RoleEntry[]> {
    const known = this.roles.get(principal);
    if (known) {
      const onRole = (await roleEntries(t, known, signal).catch(() => [])).filter(
        (e) => e.principal === principal,
      );
      if (onRole.length > 0) return onRole;
    }
    const all = await allEntries(t, signal);
    this.learn(all);
    return all.filter((e) => e.principal === principal);
  }
}
