import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorize } from '../../src/auth/authorize.js';
import type { Actor } from '../../src/domain/actor.js';
import {
  type AccessRequest,
  REQUEST_STATES,
  type RequestState,
  type Tier,
} from '../../src/domain/request.js';
import { review } from '../../src/domain/state-machine.js';
import { createRequestService, type RequestServiceDeps } from '../../src/requests/request-service.js';
import type { RequestService } from '../../src/requests/request-types.js';
import { grantStore } from '../../src/store/grant-store.js';
import { createRequestStore, type RequestStore } from '../../src/store/request-store.js';
import { approve, at, makeRequest, slot } from '../domain/fixtures.js';
import { createTestStore, STORE_KINDS, type TestStore } from '../support/stores.js';

/**
 * The to-approve list and the approve call must agree: a request is listed for someone exactly when their review
 * of it would be accepted. Random requests (requesters who are also listed as approvers, people who reviewed
 * already, ids that are prefixes of others) go through the real store and the real list; the approve call is
 * authorization plus the state machine, as the service runs it, while the request is pending and in time.
 */

const USERS = ['u1', 'u11', 'u2', 'u3', 'u4'] as const;
const PEOPLE = [...USERS, 'stranger'] as const;
const NOW = at(60);
const TIERS: Tier[] = ['peer', 'manager', 'security'];

const slotArb = fc.record({
  tier: fc.constantFrom(...TIERS),
  eligible: fc.subarray([...USERS], { minLength: 1 }),
});

const requestArb = fc.record({
  requester: fc.constantFrom(...USERS),
  slots: fc.array(slotArb, { minLength: 1, maxLength: 3 }),
  reviewers: fc.subarray([...USERS]),
  state: fc.oneof(
    { weight: 4, arbitrary: fc.constant<RequestState>('pending') },
    { weight: 1, arbitrary: fc.constantFrom(...REQUEST_STATES) },
  ),
});

type Drawn = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

function toRequest(d: Drawn, i: number): AccessRequest {
  return makeRequest({
    id: `req_${String(i).padStart(3, '0')}`,
    requester: d.requester,
    slots: d.slots.map((s) => slot(s.tier, s.eligible)),
    reviews: d.reviewers.filter((r) => r !== d.requester).map((r, k) => approve(r, k + 1)),
    state: d.state,
    createdAt: at(i),
    pendingUntil: at(3600),
  });
}

const actorOf = (userId: string, flags: { security: boolean; admin: boolean; auditor: boolean }): Actor => ({
  userId,
  ...flags,
});

/** The approve call's decision, without the store: authorization, then the state machine. */
function approveWouldAccept(actor: Actor, r: AccessRequest): boolean {
  try {
    authorize(actor, 'request.review', r);
    review(r, actor.userId, 'approve', '', NOW);
    return true;
  } catch {
    return false;
  }
}

describe.each(STORE_KINDS)('the to-approve list on %s', (kind) => {
  let testStore: TestStore;
  let requests: RequestStore;
  let service: RequestService;

  beforeAll(async () => {
    testStore = await createTestStore(kind);
    requests = createRequestStore(testStore.store.dialect);
    // list() reads the store alone: everything else a request service needs is never called here.
    const unused = () => {
      throw new Error('not used by list');
    };
    service = createRequestService({
      store: testStore.store,
      requests,
      grants: grantStore,
      clock: () => NOW,
      policy: { current: unused },
      run: unused,
      onEnded: unused,
    } as unknown as RequestServiceDeps);
  });
  afterAll(async () => {
    await testStore?.close();
  });

  async function store(all: AccessRequest[]): Promise<void> {
    const db = testStore.store.db;
    await db.deleteFrom('reviews').execute();
    await db.deleteFrom('requests').execute();
    for (const r of all) {
      const fresh = { ...r, reviews: [], version: 1 };
      await requests.insert(db, fresh);
      if (r.reviews.length > 0) {
        const t = {
          request: { ...r, version: 2 },
          action: 'request.reviewed',
          actor: 'x',
          details: {},
        } as const;
        await requests.apply(db, fresh, t);
      }
    }
  }

  it('lists a request for someone exactly when their approval of it would be accepted', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(requestArb, { minLength: 1, maxLength: 8 }),
        fc.record({ security: fc.boolean(), admin: fc.boolean(), auditor: fc.boolean() }),
        async (drawn, flags) => {
          const all = drawn.map(toRequest);
          await store(all);
          for (const person of PEOPLE) {
            const actor = actorOf(person, flags);
            const listed = (await service.list(actor, { scope: 'to-approve' })).map((v) => v.id).sort();
            const accepted = all
              .filter((r) => r.state === 'pending' && approveWouldAccept(actor, r))
              .map((r) => r.id)
              .sort();
            expect(listed).toEqual(accepted);
          }
        },
      ),
      { numRuns: kind === 'sqlite' ? 60 : 15 },
    );
  });

  it('fills the limit with requests still to review, past newer ones already reviewed', async () => {
    const reviewedByBob = [1, 2, 3].map((i) =>
      makeRequest({
        id: `req_new_${i}`,
        createdAt: at(100 + i),
        reviews: [approve('bob')],
        slots: [slot('peer', ['bob']), slot('security', ['sec'])],
      }),
    );
    const toReview = [1, 2].map((i) =>
      makeRequest({ id: `req_old_${i}`, createdAt: at(i), slots: [slot('peer', ['bob'])] }),
    );
    await store([...reviewedByBob, ...toReview]);
    const bob = actorOf('bob', { security: false, admin: false, auditor: false });
    const listed = await service.list(bob, { scope: 'to-approve', limit: 2 });
    expect(listed.map((v) => v.id).sort()).toEqual(['req_old_1', 'req_old_2']);
  });
});
