import { type Mark, readMark } from './binding-mark.js';
import type { GcpTarget } from './iam-api.js';

export interface FoundBinding extends Mark {
  serviceAccount: string;
}

/** Every Stint binding on one service account, any store's. */
export async function bindingsOn(t: GcpTarget, email: string, signal: AbortSignal): Promise<FoundBinding[]> {
  const policy = await t.getPolicy(email, signal);
  return (policy.bindings ?? []).flatMap((b) => {
    const mark = readMark(b);
    return mark ? [{ ...mark, serviceAccount: email }] : [];
  });
}

/** Every Stint binding on every service account of the project. */
export async function allBindings(t: GcpTarget, signal: AbortSignal): Promise<FoundBinding[]> {
  const out: FoundBinding[] = [];
  for (const email of await t.serviceAccounts(signal)) out.push(...(await bindingsOn(t, email, signal)));
  return out;
}

/**
 * Where each principal's bindings are: a revoke is told only its principal. Remembered from issue, else found by
 * reading every service account's policy in the project (after a restart, until reconciliation has read them).
 */
export class BindingIndex {
  private readonly accounts = new Map<string, Set<string>>();

  learn(found: readonly FoundBinding[]): void {
    for (const f of found) this.remember(f.principal, f.serviceAccount);
  }

  remember(principal: string, email: string): void {
    const known = this.accounts.get(principal) ?? new Set<string>();
    known.add(email);
    this.accounts.set(principal, known);
  }

  async find(t: GcpTarget, principal: string, signal: AbortSignal): Promise<FoundBinding[]> {
    const known = this.accounts.get(principal);
    if (known) {
      const found: FoundBinding[] = [];
      for (const email of known) found.push(...(await bindingsOn(t, email, signal).catch(() => [])));
      const mine = found.filter((f) => f.principal === principal);
      if (mine.length > 0) return mine;
    }
    const all = await allBindings(t, signal);
    this.learn(all);
    return all.filter((f) => f.principal === principal);
  }
}
