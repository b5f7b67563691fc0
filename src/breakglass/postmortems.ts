import { randomBytes } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { AuditWriter } from '../audit/audit-writer.js';
import type { Actor } from '../domain/actor.js';
import { formatDuration } from '../domain/duration.js';
import { StintError } from '../domain/errors.js';
import { SYSTEM_ACTOR } from '../domain/state-machine.js';
import type { BreakglassDeps } from './breakglass-deps.js';
import { asShared, type BgDatabase, bgDb } from './breakglass-tables.js';
import {
  CLASSIFICATIONS,
  type Classification,
  type FillPostmortemInput,
  isStaff,
  type PostmortemSubject,
  type PostmortemView,
  type TimelineEntry,
} from './breakglass-types.js';
import { eventsAfter, type TrailEvent, timelineOf, toTimeline } from './trail.js';

/**
 * Every use of break-glass is followed by a postmortem, whatever its severity: opened by the use's after-work
 * with an owner, a due date and the use's timeline from the audit trail; reminded daily while open, alerted
 * overdue (to its owner and security) daily once late; closed only with a classification and a root cause, and,
 * for a sealed secret, only once that secret was re-sealed (rotated).
 */

const DAY_MS = 86_400_000;
/** How often an open postmortem is recalled to its owner, and an overdue one alerted again. */
export const REMIND_EVERY_MS = DAY_MS;

type Row = BgDatabase['breakglass_postmortems'];

export interface OpenPostmortem {
  subjectRef: string;
  requestId?: string;
  sealId?: string;
  resource?: string;
  owner: string;
  dueSeconds: number;
  classification?: Classification;
  /** The use's events so far (a request's whole trail, or the unseal's). */
  timeline: TimelineEntry[];
}

/**
 * Opens the postmortem of one use in the caller's transaction, with its `postmortem.opened` event; a second
 * opening of the same use (another server's sweep) changes nothing. Answers its id, or null when it existed.
 */
export async function openPostmortem(
  trx: Transaction<BgDatabase>,
  audit: AuditWriter,
  input: OpenPostmortem,
  now: Date,
): Promise<string | null> {
  const id = `pm_${randomBytes(8).toString('hex')}`;
  const due = new Date(now.getTime() + input.dueSeconds * 1000);
  const inserted = await trx
    .insertInto('breakglass_postmortems')
    .values({
      id,
      subject_ref: input.subjectRef,
      request_id: input.requestId ?? null,
      seal_id: input.sealId ?? null,
      resource: input.resource ?? null,
      owner: input.owner,
      due_at: due.getTime(),
      state: 'open',
      classification: input.classification ?? null,
      root_cause: null,
      follow_ups: '[]',
      timeline: JSON.stringify(input.timeline),
      opened_at: now.getTime(),
      closed_at: null,
      closed_by: null,
      last_reminded_at: null,
      last_overdue_at: null,
    })
    .onConflict((oc) => oc.column('subject_ref').doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) !== 1) return null;
  await audit.append(asShared(trx), {
    at: now,
    actor: SYSTEM_ACTOR,
    action: 'postmortem.opened',
    requestId: input.requestId ?? null,
    target: input.resource ? { resource: input.resource } : null,
    details: {
      postmortemId: id,
      subject: input.subjectRef.split(':')[0],
      owner: input.owner,
      due: due.toISOString(),
      ...(input.sealId ? { sealId: input.sealId } : {}),
      ...(input.classification ? { classification: input.classification } : {}),
      notify: [input.owner],
    },
  });
  return id;
}

const parseList = (text: string): string[] => JSON.parse(text) as string[];

export function createPostmortems(
  deps: Pick<BreakglassDeps, 'store' | 'audit' | 'clock' | 'policy' | 'requests'>,
) {
  const db = bgDb(deps.store);

  /** A use's events as they stand: the request's whole trail, or for a seal's use the events naming it. */
  async function liveTimeline(row: Row): Promise<TimelineEntry[]> {
    if (row.request_id) return timelineOf(deps.store.db, row.request_id);
    // What was recorded at opening, then what has happened since that names this use.
    const stored = JSON.parse(row.timeline) as TimelineEntry[];
    const from = Math.max(-1, ...stored.map((e) => e.seq));
    const ref = row.subject_ref.slice(row.subject_ref.indexOf(':') + 1);
    const later = await eventsAfter(
      deps.store.db,
      from,
      [
        'breakglass.share_given',
        'breakglass.unsealed',
        'breakglass.secret_shown',
        'breakglass.rotation_required',
        'breakglass.sealed',
        'postmortem.opened',
        'postmortem.reminder',
        'postmortem.overdue',
        'postmortem.updated',
        'postmortem.closed',
      ],
      { sinceMs: row.opened_at },
    );
    const mine = (e: TrailEvent) =>
      e.details.unsealId === ref ||
      e.details.recordId === ref ||
      e.details.postmortemId === row.id ||
      (e.action === 'breakglass.sealed' && e.details.replaced === row.seal_id);
    return [...stored, ...toTimeline(later.filter(mine))];
  }

  async function view(row: Row, now: Date, timeline?: TimelineEntry[]): Promise<PostmortemView> {
    return {
      id: row.id,
      subject: (row.subject_ref.split(':')[0] ?? 'grant') as PostmortemSubject,
      requestId: row.request_id,
      sealId: row.seal_id,
      resource: row.resource,
      owner: row.owner,
      due: new Date(row.due_at).toISOString(),
      state: row.state === 'closed' ? 'closed' : 'open',
      overdue: row.state === 'open' && now.getTime() >= row.due_at,
      classification: row.classification as Classification | null,
      rootCause: row.root_cause,
      followUps: parseList(row.follow_ups),
      timeline: timeline ?? (row.state === 'closed' ? JSON.parse(row.timeline) : await liveTimeline(row)),
      openedAt: new Date(row.opened_at).toISOString(),
      closedAt: row.closed_at === null ? null : new Date(row.closed_at).toISOString(),
      closedBy: row.closed_by,
    };
  }

  /** Whether the actor may read it: its owner, whoever used it, security, auditors, admins. */
  async function mayRead(actor: Actor, row: Row): Promise<boolean> {
    if (isStaff(actor) || row.owner === actor.userId) return true;
    if (!row.request_id) return false;
    const request = await deps.requests.get(deps.store.db, row.request_id);
    return request?.requester === actor.userId;
  }

  async function readable(actor: Actor, id: string): Promise<Row> {
    const row = await db
      .selectFrom('breakglass_postmortems')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row || !(await mayRead(actor, row))) throw new StintError('NOT_FOUND', `postmortem ${id} not found`);
    return row;
  }

  function mayWrite(actor: Actor, row: Row): void {
    if (row.owner === actor.userId || actor.security || actor.admin) return;
    throw new StintError(
      'FORBIDDEN',
      `${actor.userId} may not change postmortem ${row.id}: its owner or security may`,
    );
  }

  /** Applies a change to an open postmortem under its row lock, with its audit event. */
  async function change(
    actor: Actor,
    id: string,
    decide: (row: Row, now: Date) => { set: Partial<Row>; action: string; details: Record<string, unknown> },
  ): Promise<PostmortemView> {
    const before = await readable(actor, id);
    mayWrite(actor, before);
    const now = deps.clock();
    const row = await db.transaction().execute(async (trx) => {
      let q = trx.selectFrom('breakglass_postmortems').selectAll().where('id', '=', id);
      if (deps.store.traits.rowLocks) q = q.forUpdate();
      const current = await q.executeTakeFirstOrThrow();
      if (current.state !== 'open') {
        throw new StintError('BAD_REQUEST', `postmortem ${id} is closed: it can no longer change`);
      }
      const { set, action, details } = decide(current, now);
      await trx.updateTable('breakglass_postmortems').set(set).where('id', '=', id).execute();
      await deps.audit.append(asShared(trx), {
        at: now,
        actor: actor.userId,
        action,
        requestId: current.request_id,
        details: { postmortemId: id, ...details },
        ...(actor.source ? { source: actor.source } : {}),
      });
      return { ...current, ...set };
    });
    return view(row, now);
  }

  return {
    async list(actor: Actor, q: { state?: 'open' | 'closed'; overdue?: boolean }): Promise<PostmortemView[]> {
      const now = deps.clock();
      let query = db.selectFrom('breakglass_postmortems').selectAll().orderBy('opened_at', 'desc').limit(500);
      if (q.state) query = query.where('state', '=', q.state);
      if (q.overdue) query = query.where('state', '=', 'open').where('due_at', '<=', now.getTime());
      const rows = await query.execute();
      const out: PostmortemView[] = [];
      // Listed with the timeline they were opened with; one postmortem's read shows it as it is now.
      for (const row of rows) {
        if (await mayRead(actor, row)) out.push(await view(row, now, JSON.parse(row.timeline)));
      }
      return out;
    },

    async get(actor: Actor, id: string): Promise<PostmortemView> {
      return view(await readable(actor, id), deps.clock());
    },

    async fill(actor: Actor, id: string, input: FillPostmortemInput): Promise<PostmortemView> {
      if (input.owner !== undefined && !deps.policy.current().users.has(input.owner)) {
        throw new StintError('UNKNOWN_USER', `unknown user "${input.owner}"`);
      }
      if (input.classification !== undefined && !CLASSIFICATIONS.includes(input.classification)) {
        throw new StintError('BAD_REQUEST', `classification must be one of ${CLASSIFICATIONS.join(', ')}`);
      }
      return change(actor, id, (_row, now) => {
        const set: Partial<Row> = {};
        if (input.owner !== undefined) set.owner = input.owner;
        if (input.dueSeconds !== undefined) set.due_at = now.getTime() + input.dueSeconds * 1000;
        if (input.classification !== undefined) set.classification = input.classification;
        if (input.rootCause !== undefined) set.root_cause = input.rootCause.trim();
        if (input.followUps !== undefined)
          set.follow_ups = JSON.stringify(input.followUps.map((f) => f.trim()));
        if (Object.keys(set).length === 0) throw new StintError('BAD_REQUEST', 'nothing to change');
        return {
          set,
          action: 'postmortem.updated',
          details: {
            fields: Object.keys(input).filter((k) => (input as Record<string, unknown>)[k] !== undefined),
            ...(set.owner ? { owner: set.owner, notify: [set.owner] } : {}),
            ...(set.due_at ? { due: new Date(set.due_at).toISOString() } : {}),
          },
        };
      });
    },

    async close(actor: Actor, id: string): Promise<PostmortemView> {
      const row = await readable(actor, id);
      if (row.seal_id) {
        const seal = await db
          .selectFrom('breakglass_seals')
          .select(['state', 'live_scope'])
          .where('id', '=', row.seal_id)
          .executeTakeFirst();
        if (seal?.state === 'rotation_required') {
          throw new StintError(
            'ROTATION_REQUIRED',
            `seal ${row.seal_id} was opened and is not re-sealed yet: rotate the secret and run \`stint breakglass seal\` before closing`,
          );
        }
      }
      const timeline = await liveTimeline(row);
      return change(actor, id, (current, now) => {
        const missing = [
          ...(current.classification ? [] : ['classification']),
          ...(current.root_cause ? [] : ['root cause']),
        ];
        if (missing.length > 0) {
          throw new StintError(
            'BAD_REQUEST',
            `postmortem ${id} cannot close without its ${missing.join(' and ')}`,
          );
        }
        return {
          set: {
            state: 'closed',
            closed_at: now.getTime(),
            closed_by: actor.userId,
            timeline: JSON.stringify(timeline),
          },
          action: 'postmortem.closed',
          details: { owner: current.owner, classification: current.classification },
        };
      });
    },

    /**
     * Reminds the owner of each open postmortem once a day, and once due, alerts it overdue once a day to its
     * owner and security, until it is closed. Each reminder is claimed by a conditional update, so servers
     * sweeping together send it once.
     */
    async sweep(signal: AbortSignal): Promise<number> {
      const now = deps.clock();
      const rows = await db
        .selectFrom('breakglass_postmortems')
        .selectAll()
        .where('state', '=', 'open')
        .orderBy('due_at')
        .limit(500)
        .execute();
      let sent = 0;
      for (const row of rows) {
        if (signal.aborted) break;
        const overdue = now.getTime() >= row.due_at;
        const column = overdue ? 'last_overdue_at' : 'last_reminded_at';
        const stored = row[column];
        // The first reminder comes a day after opening; the first overdue alert as soon as it is late.
        const last = overdue ? stored : (stored ?? row.opened_at);
        if (last !== null && now.getTime() - last < REMIND_EVERY_MS) continue;
        const done = await db.transaction().execute(async (trx) => {
          const claimed = await trx
            .updateTable('breakglass_postmortems')
            .set({ [column]: now.getTime() })
            .where('id', '=', row.id)
            .where('state', '=', 'open')
            .where(column, stored === null ? 'is' : '=', stored)
            .executeTakeFirst();
          if (Number(claimed.numUpdatedRows) !== 1) return false;
          const due = new Date(row.due_at).toISOString();
          await deps.audit.append(asShared(trx), {
            at: now,
            actor: SYSTEM_ACTOR,
            action: overdue ? 'postmortem.overdue' : 'postmortem.reminder',
            requestId: row.request_id,
            details: {
              postmortemId: row.id,
              owner: row.owner,
              due,
              ...(overdue
                ? {
                    late: formatDuration(Math.floor((now.getTime() - row.due_at) / 1000)) || '0s',
                    alert: true,
                    notify: [row.owner, 'security'],
                  }
                : { notify: [row.owner] }),
            },
          });
          return true;
        });
        if (done) sent += 1;
      }
      return sent;
    },
  };
}

export type Postmortems = ReturnType<typeof createPostmortems>;
