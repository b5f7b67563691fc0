import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStintError } from '../../src/domain/errors.js';
import type { AccessRequest } from '../../src/domain/request.js';
import { activate, review } from '../../src/domain/state-machine.js';
import { createRequestStore, IssueClaimLost, type RequestStore } from '../../src/store/request-store.js';
import { approve, at, makeRequest, slot } from '../domain/fixtures.js';
import { createTestStore, STORE_KINDS, type TestStore } from '../support/stores.js';

/**
 * The issuance claim written in the transition's own UPDATE (one round trip less per approve and per
 * activation): taken by the approving write, released by the activating one only while still held, and a lost
 * claim told apart from a concurrent change, since the issuer undoes its target call on the one and must not on
 * the other.
 */
describe.each(STORE_KINDS)('the issuance claim in the transition UPDATE on %s', (kind) => {
  let testStore: TestStore;
  let requests: RequestStore;
  let n = 0;

  beforeAll(async () => {
    testStore = await createTestStore(kind);
    requests = createRequestStore(kind);
  });
  afterAll(async () => {
    await testStore?.close();
  });

  const db = () => testStore.store.db;
  const claimOf = async (id: string) =>
    (
      await db()
        .selectFrom('requests')
        .select('issue_claimed_until')
        .where('id', '=', id)
        .executeTakeFirstOrThrow()
    ).issue_claimed_until;

  /** A pending request with one approver left, and that approval written with the claim taken at `claimAt`. */
  async function approvedWithClaim(claimAt: number): Promise<AccessRequest> {
    const pending = makeRequest({
      id: `req_claim_${kind}_${n++}`,
      requester: 'alice',
      slots: [slot('peer', ['bob'])],
      createdAt: at(0),
      pendingUntil: at(3600),
    });
    await requests.insert(db(), pending);
    const t = review(pending, 'bob', 'approve', '', at(10));
    expect(t.request.state).toBe('approved');
    await requests.apply(db(), pending, t, { take: claimAt });
    return requests.mustGet(db(), pending.id);
  }

  it('the approving write takes the claim, and the reviews come back with the row in one read', async () => {
    const r = await approvedWithClaim(at(13).getTime());
    expect(await claimOf(r.id)).toBe(at(13).getTime());
    expect(r.reviews).toEqual([{ ...approve('bob', 10), comment: '' }]);
    expect(r.state).toBe('approved');
  });

  it('the activating write releases a claim still held', async () => {
    const r = await approvedWithClaim(at(13).getTime());
    await requests.apply(db(), r, activate(r, at(20)), { release: at(13).getTime() });
    expect(await claimOf(r.id)).toBeNull();
    expect((await requests.mustGet(db(), r.id)).state).toBe('active');
  });

  it('an activation whose claim another server took over is refused as IssueClaimLost, and changes nothing', async () => {
    const r = await approvedWithClaim(at(13).getTime());
    // The other server's takeover: the claim moved on while this one stalled.
    expect(await requests.claimIssue(db(), r.id, at(17), 3000)).toBe(true);
    const err = await requests
      .apply(db(), r, activate(r, at(20)), { release: at(13).getTime() })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IssueClaimLost);
    expect(await claimOf(r.id)).toBe(at(20).getTime());
    expect((await requests.mustGet(db(), r.id)).state).toBe('approved');
  });

  it('a fenced write on a request changed meanwhile is CONCURRENT_UPDATE, not a lost claim', async () => {
    const r = await approvedWithClaim(at(13).getTime());
    const stale = { ...r, version: r.version - 1 };
    const err = await requests
      .apply(db(), stale, activate(stale, at(20)), { release: at(13).getTime() })
      .catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(IssueClaimLost);
    expect(isStintError(err) && err.code).toBe('CONCURRENT_UPDATE');
    expect(await claimOf(r.id)).toBe(at(13).getTime());
  });
});
