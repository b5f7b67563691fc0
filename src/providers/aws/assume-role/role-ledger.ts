import { ListRolesCommand, ListRoleTagsCommand, TagRoleCommand, UntagRoleCommand } from '@aws-sdk/client-iam';
import { StintError } from '../../../domain/errors.js';
import type { AwsTarget } from '../aws-target.js';
import { type LedgerEntry, ledgerKey, ledgerValue, parseLedger } from '../ledger.js';

/** A grant's record on the role it assumes: live until revoked, then kept (with its deny) until the window ends. */
export interface RoleEntry extends LedgerEntry {
  roleName: string;
  state: 'live' | 'revoked';
  /** The attempt's session tag: a re-issue after a crash denies the attempt it replaces, not its own. */
  attempt: string;
}

function asRoleEntry(roleName: string, key: string, value: string): RoleEntry | null {
  const entry = parseLedger(key, value);
  if (!entry) return null;
  const state = entry.fields.state === 'revoked' ? 'revoked' : 'live';
  return { ...entry, roleName, state, attempt: entry.fields.attempt ?? '' };
}

/** Every Stint ledger entry on one role, any store's. */
export async function roleEntries(t: AwsTarget, roleName: string, signal: AbortSignal): Promise<RoleEntry[]> {
  const out: RoleEntry[] = [];
  let marker: string | undefined;
  do {
    const page = await t.send(`list tags of role ${roleName}`, signal, (o) =>
      t.iam.send(new ListRoleTagsCommand({ RoleName: roleName, ...(marker ? { Marker: marker } : {}) }), o),
    );
    for (const tag of page.Tags ?? []) {
      const entry = asRoleEntry(roleName, tag.Key ?? '', tag.Value ?? '');
      if (entry) out.push(entry);
    }
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  return out;
}

export async function writeEntry(
  t: AwsTarget,
  entry: Omit<RoleEntry, 'fields'>,
  signal: AbortSignal,
): Promise<void> {
  const value = ledgerValue({ ...entry, fields: { state: entry.state, attempt: entry.attempt } });
  await t.send(`record ${entry.principal} on role ${entry.roleName}`, signal, (o) =>
    t.iam.send(
      new TagRoleCommand({
        RoleName: entry.roleName,
        Tags: [{ Key: ledgerKey(entry.storeId, entry.principal), Value: value }],
      }),
      o,
    ),
  );
}

export async function dropEntry(t: AwsTarget, roleName: string, principal: string, signal: AbortSignal) {
  await t.send(`remove the record of ${principal} from role ${roleName}`, signal, (o) =>
    t.iam.send(
      new UntagRoleCommand({ RoleName: roleName, TagKeys: [ledgerKey(t.owner.storeId, principal)] }),
      o,
    ),
  );
}

/** The roles under the resource's path prefix, by name. */
async function roleNames(t: AwsTarget, signal: AbortSignal): Promise<string[]> {
  const prefix = t.config.options.mode === 'assume-role' ? t.config.options.rolePathPrefix : '/';
  const names: string[] = [];
  let marker: string | undefined;
  do {
    const page = await t.send('list roles', signal, (o) =>
      t.iam.send(new ListRolesCommand({ PathPrefix: prefix, ...(marker ? { Marker: marker } : {}) }), o),
    );
    for (const r of page.Roles ?? []) if (r.RoleName) names.push(r.RoleName);
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  return names;
}

/**
 * Every ledger entry on every role under the path prefix. A role Stint may not read, or one deleted meanwhile,
 * holds nothing of Stint's: granting would have needed the same rights, so it is passed over.
 */
export async function allEntries(t: AwsTarget, signal: AbortSignal): Promise<RoleEntry[]> {
  const out: RoleEntry[] = [];
  for (const name of await roleNames(t, signal)) {
    try {
      out.push(...(await roleEntries(t, name, signal)));
    } catch (err) {
      const cls = err instanceof StintError && err.code === 'PROVIDER_ERROR' ? err.details?.class : undefined;
      if (cls !== 'privilege' && cls !== 'gone') throw err;
    }
  }
  return out;
}
