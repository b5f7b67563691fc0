import {
  ListPermissionSetsCommand,
  ListTagsForResourceCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-sso-admin';
import type { PermissionSetOptions } from '../aws-options.js';
import type { AwsTarget } from '../aws-target.js';
import { type LedgerEntry, ledgerKey, ledgerValue, parseLedger } from '../ledger.js';

/** A grant's claim on an assignment, recorded on the permission set: which user, in which account, until when. */
export interface PsEntry extends LedgerEntry {
  permissionSetArn: string;
  userId: string;
  accountId: string;
}

export const psOptions = (t: AwsTarget) => t.config.options as PermissionSetOptions;

/** Every Stint ledger entry on one permission set, any store's. */
export async function psEntries(
  t: AwsTarget,
  permissionSetArn: string,
  signal: AbortSignal,
): Promise<PsEntry[]> {
  const { instanceArn } = psOptions(t);
  const out: PsEntry[] = [];
  let next: string | undefined;
  do {
    const page = await t.send(`list tags of ${permissionSetArn}`, signal, (o) =>
      t.sso.send(
        new ListTagsForResourceCommand({
          InstanceArn: instanceArn,
          ResourceArn: permissionSetArn,
          ...(next ? { NextToken: next } : {}),
        }),
        o,
      ),
    );
    for (const tag of page.Tags ?? []) {
      const e = parseLedger(tag.Key ?? '', tag.Value ?? '');
      if (e?.fields.user && e.fields.account)
        out.push({ ...e, permissionSetArn, userId: e.fields.user, accountId: e.fields.account });
    }
    next = page.NextToken;
  } while (next);
  return out;
}

export async function writePsEntry(t: AwsTarget, e: Omit<PsEntry, 'fields'>, signal: AbortSignal) {
  const value = ledgerValue({ ...e, fields: { user: e.userId, account: e.accountId } });
  await t.send(`record ${e.principal} on ${e.permissionSetArn}`, signal, (o) =>
    t.sso.send(
      new TagResourceCommand({
        InstanceArn: psOptions(t).instanceArn,
        ResourceArn: e.permissionSetArn,
        Tags: [{ Key: ledgerKey(e.storeId, e.principal), Value: value }],
      }),
      o,
    ),
  );
}

export async function dropPsEntry(
  t: AwsTarget,
  permissionSetArn: string,
  principal: string,
  signal: AbortSignal,
) {
  await t.send(`remove the record of ${principal} from ${permissionSetArn}`, signal, (o) =>
    t.sso.send(
      new UntagResourceCommand({
        InstanceArn: psOptions(t).instanceArn,
        ResourceArn: permissionSetArn,
        TagKeys: [ledgerKey(t.owner.storeId, principal)],
      }),
      o,
    ),
  );
}

export async function permissionSets(t: AwsTarget, signal: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  let next: string | undefined;
  do {
    const page = await t.send('list permission sets', signal, (o) =>
      t.sso.send(
        new ListPermissionSetsCommand({
          InstanceArn: psOptions(t).instanceArn,
          ...(next ? { NextToken: next } : {}),
        }),
        o,
      ),
    );
    out.push(...(page.PermissionSets ?? []));
    next = page.NextToken;
  } while (next);
  return out;
}

/** Every ledger entry on every permission set of the instance. */
export async function allPsEntries(t: AwsTarget, signal: AbortSignal): Promise<PsEntry[]> {
  const out: PsEntry[] = [];
  for (const arn of await permissionSets(t, signal)) out.push(...(await psEntries(t, arn, signal)));
  return out;
}

/** Where each principal's claims are: remembered from issue, else found by reading every permission set. */
export class PsIndex {
  private readonly sets = new Map<string, Set<string>>();

  learn(entries: readonly PsEntry[]): void {
    for (const e of entries) this.remember(e.principal, e.permissionSetArn);
  }

  remember(principal: string, permissionSetArn: string): void {
    const known = this.sets.get(principal) ?? new Set<string>();
    known.add(permissionSetArn);
    this.sets.set(principal, known);
  }

  async find(t: AwsTarget, principal: string, signal: AbortSignal): Promise<PsEntry[]> {
    const known = this.sets.get(principal);
    if (known) {
      const found: PsEntry[] = [];
      for (const arn of known) found.push(...(await psEntries(t, arn, signal).catch(() => [])));
      const mine = found.filter((e) => e.principal === principal);
      if (mine.length > 0) return mine;
    }
    const all = await allPsEntries(t, signal);
    this.learn(all);
    return all.filter((e) => e.principal === principal);
  }
}
