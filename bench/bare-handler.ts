/**
 * Calibration for the throughput floor (issue 27): a bare Fastify app on the same store (a fresh migrated one,
 * opened as Stint opens it) doing, with Kysely directly, the reads and writes one request + approve makes in
 * Stint, as read from the SQL Stint sends (src/requests, src/grants, src/audit/audit-store.ts):
 *
 *   POST /requests              token row by id; tx { insert request; bump audit_head; insert its audit event }
 *   POST /requests/:id/approve  token row; request with reviews; tx { the same again (FOR UPDATE on
 *                               PostgreSQL); update request with the issuance claim; insert review; audit event };
 *                               tx { request FOR UPDATE; update to active; insert grant; audit event }
 *
 * Left out, so the bare rate is a ceiling rather than a peer: policy evaluation, JSON schemas, the access rules,
 * the leaf MAC, sealing the credential, the provider, tree building and the notifier (Stint does these beside
 * or after the commits). Activation runs inline before approve answers; Stint answers after the approval commits
 * and activates from its outbox, which the bench waits for.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify from 'fastify';
import type { Transaction } from 'kysely';
import { jsonArrayFrom as pgJsonArrayFrom } from 'kysely/helpers/postgres';
import { jsonArrayFrom as sqliteJsonArrayFrom } from 'kysely/helpers/sqlite';
import { encodeEvent } from '../src/audit/audit-event.js';
import { leafHash } from '../src/audit/log/merkle.js';
import type { Database } from '../src/store/schema.js';
import { createTestStore, type StoreKind } from '../test/support/stores.js';
import { createLoopbackClient } from './loopback.js';
import { round, runBounded, type Summary, summarize } from './stats.js';

export interface BareHandlerFigures {
  store: StoreKind;
  cycles: number;
  concurrency: number;
  cyclesPerSecond: number;
  cycle: Summary;
  /** This process's CPU (user + system) per cycle: server and client both run here, as in Stint's figure. */
  cpuMsPerCycle: number;
}

const WARMUP = 100;
const USERS = ['alice', 'carol'] as const;

async function audit(
  trx: Transaction<Database>,
  actor: string,
  action: string,
  requestId: string,
  details: Record<string, unknown>,
): Promise<void> {
  const { size } = await trx
    .updateTable('audit_head')
    .set((eb) => ({ size: eb('size', '+', 1) }))
    .where('id', '=', 1)
    .returning('size')
    .executeTakeFirstOrThrow();
  const at = new Date();
  const seq = Number(size) - 1;
  const body = encodeEvent({
    v: 1,
    seq,
    id: randomUUID(),
    time: at.toISOString(),
    actor,
    action,
    result: 'success',
    requestId,
    target: { resource: 'bench-db', role: 'admin' },
    reason: null,
    source: null,
    details,
  });
  await trx
    .insertInto('audit_events')
    .values({
      seq,
      id: randomUUID(),
      at: at.getTime(),
      actor,
      action,
      request_id: requestId,
      body,
      leaf_hash: leafHash(body),
      leaf_mac: null,
    })
    .execute();
}

export async function measureBareHandler(
  kind: StoreKind,
  cycles: number,
  concurrency: number,
): Promise<BareHandlerFigures> {
  const testStore = await createTestStore(kind);
  const { db } = testStore.store;
  const pg = kind === 'postgresql';
  const tokens = new Map<string, string>();
  for (const user of USERS) {
    const id = randomBytes(12).toString('base64url');
    const secret = randomBytes(32).toString('base64url');
    await db
      .insertInto('api_tokens')
      .values({
        id,
        user_id: user,
        name: 'bench',
        hash: createHash('sha256').update(secret).digest('hex'),
        created_at: Date.now(),
        expires_at: null,
        revoked_at: null,
        last_used_at: null,
        scopes: null,
        host_session: null,
      })
      .execute();
    tokens.set(user, `stint_${id}.${secret}`);
  }
  const authenticate = async (header: string | undefined): Promise<string> => {
    const [id, secret] = (header ?? '').replace(/^Bearer stint_/, '').split('.');
    const row = await db
      .selectFrom('api_tokens')
      .selectAll()
      .where('id', '=', id ?? '')
      .executeTakeFirst();
    const given = createHash('sha256')
      .update(secret ?? '')
      .digest();
    if (!row || !timingSafeEqual(given, Buffer.from(row.hash, 'hex'))) throw new Error('unauthenticated');
    return row.user_id;
  };

  const app = Fastify({ logger: false });
  app.post<{ Body: { resource: string; role: string; reason: string } }>('/requests', async (req, reply) => {
    const user = await authenticate(req.headers.authorization);
    const id = `req_${randomBytes(8).toString('hex')}`;
    const now = Date.now();
    await db.transaction().execute(async (trx) => {
      await trx
        .insertInto('requests')
        .values({
          id,
          requester: user,
          resource: req.body.resource,
          role: req.body.role,
          reason: req.body.reason,
          duration_seconds: 14_400,
          state: 'pending',
          policy_version: 'bench',
          rule_id: 'bench-admin',
          tiers: '["manager"]',
          slots: '[]',
          created_at: now,
          pending_until: now + 86_400_000,
          approved_at: null,
          activated_at: null,
          expires_at: null,
          ended_at: null,
          ended_by: null,
          end_reason: null,
          version: 1,
          issue_claimed_until: null,
        })
        .execute();
      await audit(trx, user, 'request.created', id, { durationSeconds: 14_400, reason: req.body.reason });
    });
    return reply.code(201).send({ id, state: 'pending' });
  });
  app.post<{ Params: { id: string } }>('/requests/:id/approve', async (req) => {
    const user = await authenticate(req.headers.authorization);
    const { id } = req.params;
    // The request with its reviews in one query, as Stint's request store reads it.
    const read = async (q: typeof db) =>
      q
        .selectFrom('requests')
        .selectAll('requests')
        .select((eb) =>
          (pg ? pgJsonArrayFrom : sqliteJsonArrayFrom)(
            eb
              .selectFrom('reviews')
              .select(['reviews.reviewer', 'reviews.decision', 'reviews.comment', 'reviews.at'])
              .whereRef('reviews.request_id', '=', 'requests.id')
              .orderBy('reviews.at'),
          ).as('review_list'),
        )
        .where('requests.id', '=', id)
        .$if(pg && q !== db, (s) => s.forUpdate())
        .executeTakeFirstOrThrow();
    await read(db);
    const now = Date.now();
    await db.transaction().execute(async (trx) => {
      const request = await read(trx);
      // The issuance claim is taken in the approving UPDATE, as Stint's store does.
      await trx
        .updateTable('requests')
        .set({
          state: 'approved',
          approved_at: now,
          version: request.version + 1,
          issue_claimed_until: now + 15_000,
        })
        .where('id', '=', id)
        .where('version', '=', request.version)
        .execute();
      await trx
        .insertInto('reviews')
        .values({ request_id: id, reviewer: user, decision: 'approve', comment: '', at: now })
        .execute();
      await audit(trx, user, 'request.approved', id, { approvers: [user], comment: '' });
    });
    await db.transaction().execute(async (trx) => {
      const request = await trx
        .selectFrom('requests')
        .selectAll()
        .where('id', '=', id)
        .$if(pg, (s) => s.forUpdate())
        .executeTakeFirstOrThrow();
      const expiresAt = Date.now() + request.duration_seconds * 1000;
      await trx
        .updateTable('requests')
        .set({
          state: 'active',
          activated_at: Date.now(),
          expires_at: expiresAt,
          version: request.version + 1,
          issue_claimed_until: null,
        })
        .where('id', '=', id)
        .where('version', '=', request.version)
        .where('issue_claimed_until', '=', request.issue_claimed_until)
        .execute();
      await trx
        .insertInto('grants')
        .values({
          request_id: id,
          resource: request.resource,
          principal: `stint_mem_${id.slice(4)}`,
          credential_enc: randomBytes(96).toString('base64url'),
          credential_shown_at: null,
          revocation: 'none',
          revoke_attempts: 0,
          next_revoke_at: null,
          revoke_error: null,
          revoked_at: null,
          created_at: Date.now(),
          vanished_at: null,
        })
        .execute();
      await audit(trx, 'stint', 'grant.activated', id, { expiresAt: new Date(expiresAt).toISOString() });
    });
    return { id, state: 'active' };
  });

  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const client = createLoopbackClient(address, concurrency);
  const as = (user: string) => ({ authorization: `Bearer ${tokens.get(user)}` });
  const times: number[] = [];
  const once = async (i: number, record: boolean) => {
    const t0 = performance.now();
    const created = await client.call('POST', '/requests', as('alice'), {
      resource: 'bench-db',
      role: 'admin',
      reason: `bare cycle ${i}`,
    });
    if (created.status !== 201) throw new Error(`bare create: HTTP ${created.status}`);
    const approved = await client.call('POST', `/requests/${created.body.id}/approve`, as('carol'), {});
    if (approved.status !== 200 || approved.body.state !== 'active')
      throw new Error(`bare approve: HTTP ${approved.status}`);
    if (record) times.push(performance.now() - t0);
  };
  try {
    await runBounded(WARMUP, concurrency, (i) => once(i, false));
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    await runBounded(cycles, concurrency, (i) => once(i, true));
    const cpu = process.cpuUsage(cpuBefore);
    const wallMs = performance.now() - started;
    return {
      store: kind,
      cycles,
      concurrency,
      cyclesPerSecond: round((cycles / wallMs) * 1000),
      cycle: summarize(times),
      cpuMsPerCycle: round((cpu.user + cpu.system) / 1000 / cycles, 2),
    };
  } finally {
    client.close();
    await app.close();
    await testStore.close();
  }
}
