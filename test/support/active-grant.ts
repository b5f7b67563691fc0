import { expect } from 'vitest';
import type { ApiResponse } from './harness.js';
import { waitFor } from './pg-client.js';

/**
 * What asking for a grant needs of a server: a caller per user. The harness is one; a test driving a real
 * `stint server` process over HTTP makes one from its fetch.
 */
export interface GrantApi {
  as(user: string): {
    get(path: string): Promise<ApiResponse>;
    post(path: string, body?: unknown): Promise<ApiResponse>;
  };
  /** Waits until request `id` leaves `approved` (the harness reads its store); without it the API is polled. */
  settled?(id: string): Promise<void>;
}

export interface GrantAsk {
  resource: string;
  role: string;
  /** `test` unless given: a resource whose rule wants a ticket needs one here. */
  reason?: string;
  duration?: string;
  /** Who asks; alice (payments, manager carol) by default. */
  requester?: string;
  /**
   * Who approves, one POST each in this order, for a rule that is not auto-approved. Approving critical access
   * needs a fresh second factor: the harness steps every user up at its start (unless told `stepUp: false`).
   */
  approvers?: readonly string[];
  /** Sent with each approval. */
  comment?: string;
  /** Take the credential as the requester once active: `true` for no input, or the body to send. */
  take?: true | object;
}

/** Test answers are read field by field, as the API's own shapes. */
// biome-ignore lint/suspicious/noExplicitAny: see above
type View = any;

export interface ActiveGrant {
  id: string;
  /** The request as its creation answered it: `pending` (before approvals) or `approved` (auto). */
  created: View;
  /** The request once active (its `expiresAt`, `activatedAt`, `reviews`…). */
  request: View;
}

export interface TakenGrant extends ActiveGrant {
  /** The credential's answer: `principal`, `secret` (e.g. `secret.url` for PostgreSQL), `expiresAt`. */
  credential: View;
}

/**
 * An active grant on a target, made as people make one through the API: the requester asks, each approver
 * approves, issuance settles (it runs just after the commit), and the request must then read `active`. With
 * `take`, the requester takes the credential too. Any step answering otherwise fails the test there, saying
 * what the server answered.
 */
export async function activeGrant(
  api: GrantApi,
  ask: GrantAsk & { take: true | object },
): Promise<TakenGrant>;
export async function activeGrant(api: GrantApi, ask: GrantAsk): Promise<ActiveGrant>;
export async function activeGrant(api: GrantApi, ask: GrantAsk): Promise<ActiveGrant | TakenGrant> {
  const requester = ask.requester ?? 'alice';
  const created = await api.as(requester).post('/v1/requests', {
    resource: ask.resource,
    role: ask.role,
    reason: ask.reason ?? 'test',
    ...(ask.duration ? { duration: ask.duration } : {}),
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const id: string = created.body.id;
  for (const approver of ask.approvers ?? []) {
    const approved = await api
      .as(approver)
      .post(`/v1/requests/${id}/approve`, ask.comment === undefined ? {} : { comment: ask.comment });
    expect(approved.status, `${approver} approving: ${JSON.stringify(approved.body)}`).toBe(200);
  }
  const request = await settledView(api, requester, id);
  expect(request.state, JSON.stringify(request)).toBe('active');
  const grant: ActiveGrant = { id, created: created.body, request };
  if (ask.take === undefined) return grant;
  const taken = await api
    .as(requester)
    .post(`/v1/requests/${id}/credentials`, ask.take === true ? undefined : ask.take);
  expect(taken.status, JSON.stringify(taken.body)).toBe(200);
  return { ...grant, credential: taken.body };
}

/** The request as its requester reads it once it has left `approved` (issuance runs after the approval commits). */
async function settledView(api: GrantApi, user: string, id: string): Promise<View> {
  if (api.settled) {
    await api.settled(id);
    return (await api.as(user).get(`/v1/requests/${id}`)).body;
  }
  const read = await waitFor(async () => {
    const r = await api.as(user).get(`/v1/requests/${id}`);
    return r.body?.state === 'approved' ? null : r;
  }, 20_000);
  return read.body;
}
