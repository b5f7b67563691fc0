import { createHash, createHmac } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { listAudit } from '../../audit/audit-store.js';
import type { AccessRequest } from '../../domain/request.js';
import type { Sensitivity } from '../../policy/policy-types.js';
import type { Database } from '../../store/schema.js';
import type { RecordingDatabase, RecordingDb } from '../recording-tables.js';

export interface SamplingConfig {
  /** The share of routine sessions drawn for review (0.05: one in twenty). */
  rate: number;
  /** A request whose reason matches is incident-linked: all its sessions are reviewed. Null: none is. */
  incidentPattern: RegExp | null;
  /** How long a reviewer has, from the session's start. */
  dueDays: number;
}

export const DEFAULT_SAMPLING: SamplingConfig = { rate: 0.05, incidentPattern: /^INC-[0-9]+/, dueDays: 7 };

export type ReviewReason = 'critical' | 'sensitive' | 'break-glass' | 'incident' | 'sampled';

export interface Draw {
  /** In [0, 1): HMAC-SHA256(seed, session id), its first 48 bits over 2^48. */
  draw: number;
  rate: number;
  /** First 16 hex of SHA-256(seed): which seed, without the seed. */
  seedId: string;
  reasons: ReviewReason[];
  selected: boolean;
}

/**
 * The draw for one session: deterministic from the deployment's secret seed and the session id, so an auditor
 * holding the seed re-draws it (`drawOf`) and checks nobody steered a session out of the sample; secret, so a user
 * cannot pick a session id that escapes it (ids are random anyway, made by the proxy).
 */
export function drawOf(seed: string, sessionId: string): number {
  const mac = createHmac('sha256', Buffer.from(seed, 'hex')).update(sessionId).digest();
  return mac.readUIntBE(0, 6) / 2 ** 48;
}

export function seedIdOf(seed: string): string {
  return createHash('sha256').update(Buffer.from(seed, 'hex')).digest('hex').slice(0, 16);
}

async function seedOf(db: RecordingDb | Transaction<RecordingDatabase>): Promise<string> {
  const row = await db
    .selectFrom('session_review_seed')
    .select('seed')
    .where('id', '=', 1)
    .executeTakeFirst();
  if (!row) throw new Error('session_review_seed has no seed (migration 0016)');
  return row.seed;
}

/**
 * Why a session must be reviewed whatever the draw: the resource's sensitivity, an incident named as the reason,
 * or a break-glass grant (its audit events carry `review: "required"` in their details: read by event, so the
 * break-glass capability needs no call into this one).
 */
export async function mandatoryReasons(
  db: RecordingDb | Transaction<RecordingDatabase>,
  request: AccessRequest,
  sensitivity: Sensitivity,
  config: SamplingConfig,
): Promise<ReviewReason[]> {
  const reasons: ReviewReason[] = [];
  if (sensitivity === 'critical' || sensitivity === 'sensitive') reasons.push(sensitivity);
  // The audit store's reader takes the store's own table list; these are the same connection and transaction.
  const events = await listAudit(db as unknown as Kysely<Database>, { requestId: request.id, limit: 1000 });
  if (events.some((e) => (e.details as { review?: unknown }).review === 'required'))
    reasons.push('break-glass');
  if (config.incidentPattern?.test(request.reason)) reasons.push('incident');
  return reasons;
}

export async function drawSession(
  db: RecordingDb | Transaction<RecordingDatabase>,
  sessionId: string,
  mandatory: ReviewReason[],
  config: SamplingConfig,
): Promise<Draw> {
  const seed = await seedOf(db);
  const draw = drawOf(seed, sessionId);
  const sampled = draw < config.rate;
  const reasons: ReviewReason[] = [...mandatory, ...(sampled ? (['sampled'] as const) : [])];
  return { draw, rate: config.rate, seedId: seedIdOf(seed), reasons, selected: reasons.length > 0 };
}
