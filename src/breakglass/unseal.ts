import { randomBytes } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { Actor } from '../domain/actor.js';
import { StintError } from '../domain/errors.js';
import { SYSTEM_ACTOR } from '../domain/state-machine.js';
import { BREAKGLASS_DEFAULTS } from '../policy/breakglass-policy.js';
import type { BreakglassDeps } from './breakglass-deps.js';
import { asShared, type BgDatabase, bgDb } from './breakglass-tables.js';
import { isStaff, type UnsealPurpose, type UnsealState, type UnsealView } from './breakglass-types.js';
import { entryForResource, mayBreakGlass } from './entries.js';
import { openPostmortem } from './postmortems.js';
import { checkShare, openSeal, parseShare } from './seal-crypto.js';
import { bundleOf, liveSeal, officersOf, STINT_SCOPE } from './seals.js';
import { eventsAfter, toTimeline } from './trail.js';

/** An attempt left open this long ends; its shares are dropped. An opened secret not taken by then is too. */
export const UNSEAL_TTL_MS = 15 * 60_000;
/** Wrong shares an attempt survives; at this many it fails and must be opened again. */
export const MAX_BAD_SHARES = 3;

type UnsealRow = BgDatabase['breakglass_unseals'];
type SealRow = BgDatabase['breakglass_seals'];
type Given = { officer: string; at: number };
type Held = { officer: string; share: string };

/**
 * Online unsealing, when the normal path is down (the identity provider is out, a target's admin credential is
 * unusable): someone entitled opens an attempt, which is a nonce the officers give their shares against, one
 * attempt per seal at a time (`open_seal` is unique). Each officer gives their own share only (the share must be
 * theirs and match its commitment), once, with a fresh second factor. At the threshold the server combines the
 * shares, opens the seal (AES-GCM checks the result), forgets the shares, and keeps the secret sealed for the
 * opener to take once. The seal then requires rotation (re-seal a rotated secret) and a postmortem is opened.
 *
 * A drill's attempt (`purpose: drill`) proves the shares still open the seal without revealing the secret: the
 * combined key is checked and dropped, and the seal stays as it was.
 */
export function createUnseal(
  deps: Pick<BreakglassDeps, 'store' | 'audit' | 'clock' | 'policy' | 'secrets' | 'stepUp' | 'logger'>,
) {
  const db = bgDb(deps.store);

  function view(row: UnsealRow, seal: SealRow): UnsealView {
    const given = (JSON.parse(row.given) as Given[]).map((g) => g.officer);
    return {
      id: row.id,
      sealId: seal.id,
      scope: seal.scope,
      label: seal.label,
      purpose: row.purpose as UnsealPurpose,
      openedBy: row.opened_by,
      reason: row.reason,
      state: row.state as UnsealState,
      threshold: seal.threshold,
      officers: officersOf(seal).map((o) => o.user),
      given,
      remaining: Math.max(0, seal.threshold - given.length),
      badShares: row.bad_shares,
      openedAt: new Date(row.opened_at).toISOString(),
      expiresAt: new Date(row.expires_at).toISOString(),
      endedAt: row.ended_at === null ? null : new Date(row.ended_at).toISOString(),
      secretReady: row.state === 'done' && row.secret_enc !== null,
    };
  }

  async function sealOf(trx: Transaction<BgDatabase> | typeof db, id: string): Promise<SealRow> {
    return trx.selectFrom('breakglass_seals').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  }

  /** Who may open a seal: for a resource, whoever may break glass on it, and security; Stint's own, security and admins. */
  function mayOpen(actor: Actor, scope: string): boolean {
    if (actor.security) return true;
    if (scope === STINT_SCOPE) return actor.admin;
    const policy = deps.policy.current();
    const entry = entryForResource(policy, scope);
    return entry !== undefined && mayBreakGlass(entry, policy.users.get(actor.userId));
  }

  function mayWatch(actor: Actor, row: UnsealRow, seal: SealRow): boolean {
    return (
      isStaff(actor) ||
      row.opened_by === actor.userId ||
      officersOf(seal).some((o) => o.user === actor.userId)
    );
  }

  /** Ends an attempt: it no longer blocks the seal, and the shares it held are gone. */
  async function end(trx: Transaction<BgDatabase>, id: string, state: string, now: Date): Promise<boolean> {
    const res = await trx
      .updateTable('breakglass_unseals')
      .set({ state, open_seal: null, shares_enc: null, ended_at: now.getTime() })
      .where('id', '=', id)
      .where('state', '=', 'open')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async function expire(trx: Transaction<BgDatabase>, row: UnsealRow, now: Date): Promise<void> {
    if (!(await end(trx, row.id, 'expired', now))) return;
    await deps.audit.append(asShared(trx), {
      at: now,
      actor: SYSTEM_ACTOR,
      action: 'breakglass.unseal_expired',
      requestId: null,
      details: { unsealId: row.id, sealId: row.seal_id, given: (JSON.parse(row.given) as Given[]).length },
    });
  }

  async function locked(trx: Transaction<BgDatabase>, id: string): Promise<UnsealRow | undefined> {
    let q = trx.selectFrom('breakglass_unseals').selectAll().where('id', '=', id);
    if (deps.store.traits.rowLocks) q = q.forUpdate();
    return q.executeTakeFirst();
  }

  /** What the opened seal sets off: the seal must be rotated, and its use gets a postmortem. */
  async function afterOpened(
    trx: Transaction<BgDatabase>,
    row: UnsealRow,
    seal: SealRow,
    now: Date,
  ): Promise<void> {
    await trx
      .updateTable('breakglass_seals')
      .set({ state: 'rotation_required', uses: seal.uses + 1, rotation_reason: `opened online (${row.id})` })
      .where('id', '=', seal.id)
      .execute();
    const target = seal.scope === STINT_SCOPE ? null : { resource: seal.scope };
    await deps.audit.append(asShared(trx), {
      at: now,
      actor: SYSTEM_ACTOR,
      action: 'breakglass.rotation_required',
      requestId: null,
      target,
      details: {
        sealId: seal.id,
        scope: seal.scope,
        unsealId: row.id,
        reason: `opened online (${row.id})`,
        alert: true,
        notify: ['security'],
      },
    });
    const entry =
      seal.scope === STINT_SCOPE ? undefined : entryForResource(deps.policy.current(), seal.scope);
    const events = await eventsAfter(
      asShared(trx),
      -1,
      [
        'breakglass.unseal_opened',
        'breakglass.share_given',
        'breakglass.share_refused',
        'breakglass.unsealed',
        'breakglass.rotation_required',
      ],
      { sinceMs: row.opened_at },
    );
    await openPostmortem(
      trx,
      deps.audit,
      {
        subjectRef: `unseal:${row.id}`,
        sealId: seal.id,
        ...(target ? { resource: seal.scope } : {}),
        owner: entry?.postmortem.owner ?? row.opened_by,
        dueSeconds: entry?.postmortem.dueSeconds ?? BREAKGLASS_DEFAULTS.postmortemDueSeconds,
        timeline: toTimeline(events.filter((e) => e.details.unsealId === row.id)),
      },
      now,
    );
  }

  return {
    async open(
      actor: Actor,
      input: { scope: string; reason: string; purpose?: UnsealPurpose },
    ): Promise<UnsealView> {
      const reason = input.reason.trim();
      if (reason === '') throw new StintError('TICKET_REQUIRED', 'unsealing needs a reason');
      const purpose = input.purpose ?? 'use';
      const now = deps.clock();
      const seal = await liveSeal(db, input.scope);
      if (!seal) throw new StintError('NOT_FOUND', `no sealed secret for "${input.scope}"`);
      if (!mayOpen(actor, seal.scope)) {
        throw new StintError('FORBIDDEN', `${actor.userId} may not open the sealed secret of ${seal.scope}`);
      }
      await deps.stepUp.require(actor, 'opening a sealed break-glass secret');
      const id = `unseal_${randomBytes(16).toString('hex')}`;
      const row: UnsealRow = {
        id,
        seal_id: seal.id,
        open_seal: seal.id,
        purpose,
        opened_by: actor.userId,
        reason,
        state: 'open',
        given: '[]',
        shares_enc: deps.secrets.seal('[]', id),
        bad_shares: 0,
        opened_at: now.getTime(),
        expires_at: now.getTime() + UNSEAL_TTL_MS,
        ended_at: null,
        secret_enc: null,
      };
      await db.transaction().execute(async (trx) => {
        const current = await trx
          .selectFrom('breakglass_unseals')
          .selectAll()
          .where('open_seal', '=', seal.id)
          .executeTakeFirst();
        if (current && current.expires_at <= now.getTime()) await expire(trx, current, now);
        const inserted = await trx
          .insertInto('breakglass_unseals')
          .values(row)
          .onConflict((oc) => oc.column('open_seal').doNothing())
          .executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0) !== 1) {
          const busy = await trx
            .selectFrom('breakglass_unseals')
            .select('id')
            .where('open_seal', '=', seal.id)
            .executeTakeFirst();
          throw new StintError(
            'UNSEAL_BUSY',
            `an unseal attempt of ${seal.scope} is already open: one at a time (see stint breakglass unseal status)`,
            { unsealId: busy?.id ?? 'unknown' },
          );
        }
        await deps.audit.append(asShared(trx), {
          at: now,
          actor: actor.userId,
          action: 'breakglass.unseal_opened',
          requestId: null,
          target: seal.scope === STINT_SCOPE ? null : { resource: seal.scope },
          reason,
          details: {
            unsealId: id,
            sealId: seal.id,
            scope: seal.scope,
            purpose,
            reason,
            threshold: seal.threshold,
            officers: officersOf(seal).map((o) => o.user),
            alert: true,
            notify: ['security', ...officersOf(seal).map((o) => o.user)],
          },
          ...(actor.source ? { source: actor.source } : {}),
        });
      });
      return view(row, seal);
    },

    /**
     * An officer gives their share against the attempt's nonce. A refusal (not an officer, given twice, not the
     * share issued to them) is recorded before it is answered; the third wrong share fails the attempt.
     */
    async give(actor: Actor, id: string, shareText: string): Promise<UnsealView> {
      await deps.stepUp.require(actor, 'giving a break-glass share');
      let parsed: ReturnType<typeof parseShare> | StintError;
      try {
        parsed = parseShare(shareText);
      } catch (e) {
        if (!(e instanceof StintError)) throw e;
        parsed = e;
      }
      const outcome = await db.transaction().execute(async (trx) => {
        const now = deps.clock();
        const row = await locked(trx, id);
        if (!row) return { error: new StintError('NOT_FOUND', `no unseal attempt ${id}`) };
        const seal = await sealOf(trx, row.seal_id);
        const officers = officersOf(seal);
        if (!mayWatch(actor, row, seal))
          return { error: new StintError('NOT_FOUND', `no unseal attempt ${id}`) };
        if (row.state === 'open' && row.expires_at <= now.getTime()) {
          await expire(trx, row, now);
          return { error: new StintError('BAD_REQUEST', `unseal attempt ${id} expired: open a new one`) };
        }
        if (row.state !== 'open') {
          return {
            error: new StintError('BAD_REQUEST', `unseal attempt ${id} is ${row.state}: open a new one`),
          };
        }
        const given = JSON.parse(row.given) as Given[];
        const base = {
          at: now,
          actor: actor.userId,
          requestId: null,
          ...(actor.source ? { source: actor.source } : {}),
        };
        const refuse = async (why: string, error: StintError, counts: boolean) => {
          const bad = row.bad_shares + (counts ? 1 : 0);
          if (counts)
            await trx
              .updateTable('breakglass_unseals')
              .set({ bad_shares: bad })
              .where('id', '=', id)
              .execute();
          await deps.audit.append(asShared(trx), {
            ...base,
            action: 'breakglass.share_refused',
            details: {
              unsealId: id,
              sealId: seal.id,
              officer: actor.userId,
              why,
              alert: true,
              notify: ['security'],
            },
          });
          if (counts && bad >= MAX_BAD_SHARES && (await end(trx, id, 'failed', now))) {
            await deps.audit.append(asShared(trx), {
              ...base,
              actor: SYSTEM_ACTOR,
              action: 'breakglass.unseal_failed',
              details: {
                unsealId: id,
                sealId: seal.id,
                reason: `${bad} shares refused`,
                alert: true,
                notify: ['security'],
              },
            });
          }
          return { error };
        };
        if (!officers.some((o) => o.user === actor.userId)) {
          return refuse(
            'not an officer of this seal',
            new StintError('FORBIDDEN', `${actor.userId} holds no share of seal ${seal.id}`),
            false,
          );
        }
        if (given.some((g) => g.officer === actor.userId)) {
          return refuse(
            'gave a share twice',
            new StintError(
              'SHARE_ALREADY_GIVEN',
              `${actor.userId} has given their share to this attempt already`,
            ),
            false,
          );
        }
        if (parsed instanceof StintError) return refuse('not a share', parsed, true);
        try {
          checkShare(bundleOf(seal), parsed, actor.userId);
        } catch (e) {
          if (!(e instanceof StintError)) throw e;
          return refuse('does not match the share issued', e, true);
        }
        const held = JSON.parse(deps.secrets.open(row.shares_enc ?? '', id)) as Held[];
        held.push({ officer: actor.userId, share: Buffer.from(parsed.bytes).toString('base64') });
        given.push({ officer: actor.userId, at: now.getTime() });
        const sharesEnc = deps.secrets.seal(JSON.stringify(held), id);
        await trx
          .updateTable('breakglass_unseals')
          .set({ given: JSON.stringify(given), shares_enc: sharesEnc })
          .where('id', '=', id)
          .execute();
        await deps.audit.append(asShared(trx), {
          ...base,
          action: 'breakglass.share_given',
          details: {
            unsealId: id,
            sealId: seal.id,
            officer: actor.userId,
            given: given.length,
            threshold: seal.threshold,
          },
        });
        if (given.length < seal.threshold) return { row: { ...row, given: JSON.stringify(given) }, seal };

        // The threshold is reached: open it here, under the lock, and forget the shares whatever happens.
        let secret: string;
        try {
          secret = (
            await openSeal(
              bundleOf(seal),
              held.map((h) => new Uint8Array(Buffer.from(h.share, 'base64'))),
            )
          ).secret;
        } catch (e) {
          if (!(e instanceof StintError)) throw e;
          await end(trx, id, 'failed', now);
          await deps.audit.append(asShared(trx), {
            ...base,
            actor: SYSTEM_ACTOR,
            action: 'breakglass.unseal_failed',
            details: { unsealId: id, sealId: seal.id, reason: e.message, alert: true, notify: ['security'] },
          });
          return { error: e, commit: true };
        }
        const reveal = row.purpose === 'use';
        await trx
          .updateTable('breakglass_unseals')
          .set({
            state: 'done',
            open_seal: null,
            shares_enc: null,
            ended_at: now.getTime(),
            // Kept for the opener alone, until taken or until the attempt's time is up.
            secret_enc: reveal ? deps.secrets.seal(secret, `${id}:secret`) : null,
            expires_at: now.getTime() + UNSEAL_TTL_MS,
          })
          .where('id', '=', id)
          .execute();
        await deps.audit.append(asShared(trx), {
          ...base,
          actor: SYSTEM_ACTOR,
          action: 'breakglass.unsealed',
          target: seal.scope === STINT_SCOPE ? null : { resource: seal.scope },
          details: {
            unsealId: id,
            sealId: seal.id,
            scope: seal.scope,
            purpose: row.purpose,
            openedBy: row.opened_by,
            officers: given.map((g) => g.officer),
            revealed: reveal,
            alert: true,
            notify: ['security'],
          },
        });
        if (reveal) await afterOpened(trx, row, seal, now);
        const done = await locked(trx, id);
        return { row: done as UnsealRow, seal };
      });
      if ('error' in outcome && outcome.error) throw outcome.error;
      if (!('row' in outcome))
        throw new StintError('INTERNAL', 'unseal ended without an answer', { requestId: id });
      return view(outcome.row, outcome.seal);
    },

    /** The opened secret, once, to whoever opened the attempt. */
    async take(
      actor: Actor,
      id: string,
    ): Promise<{ unsealId: string; sealId: string; scope: string; secret: string }> {
      const now = deps.clock();
      return db.transaction().execute(async (trx) => {
        const row = await locked(trx, id);
        if (!row || row.opened_by !== actor.userId)
          throw new StintError('NOT_FOUND', `no unseal attempt ${id} of yours`);
        if (row.state !== 'done' || row.secret_enc === null) {
          throw new StintError(
            'CREDENTIAL_NOT_AVAILABLE',
            row.state === 'done'
              ? `the secret of ${id} was taken already or is gone`
              : `unseal attempt ${id} is ${row.state}`,
          );
        }
        const seal = await sealOf(trx, row.seal_id);
        const secret = deps.secrets.open(row.secret_enc, `${id}:secret`);
        await trx.updateTable('breakglass_unseals').set({ secret_enc: null }).where('id', '=', id).execute();
        await deps.audit.append(asShared(trx), {
          at: now,
          actor: actor.userId,
          action: 'breakglass.secret_shown',
          requestId: null,
          target: seal.scope === STINT_SCOPE ? null : { resource: seal.scope },
          details: { unsealId: id, sealId: seal.id, scope: seal.scope },
          ...(actor.source ? { source: actor.source } : {}),
        });
        return { unsealId: id, sealId: seal.id, scope: seal.scope, secret };
      });
    },

    /** Attempts open now and those ended in the last day, as far as the caller may see them. */
    async status(actor: Actor): Promise<UnsealView[]> {
      const since = deps.clock().getTime() - 86_400_000;
      const rows = await db
        .selectFrom('breakglass_unseals')
        .selectAll()
        .where((eb) => eb.or([eb('state', '=', 'open'), eb('opened_at', '>=', since)]))
        .orderBy('opened_at', 'desc')
        .limit(100)
        .execute();
      const out: UnsealView[] = [];
      for (const row of rows) {
        const seal = await sealOf(db, row.seal_id);
        if (mayWatch(actor, row, seal)) out.push(view(row, seal));
      }
      return out;
    },

    /** Ends attempts whose time is up and drops opened secrets nobody took. */
    async sweep(signal: AbortSignal): Promise<number> {
      const now = deps.clock();
      const rows = await db
        .selectFrom('breakglass_unseals')
        .selectAll()
        .where('expires_at', '<=', now.getTime())
        .where((eb) => eb.or([eb('state', '=', 'open'), eb('secret_enc', 'is not', null)]))
        .limit(100)
        .execute();
      let n = 0;
      for (const row of rows) {
        if (signal.aborted) break;
        await db.transaction().execute(async (trx) => {
          if (row.state === 'open') await expire(trx, row, now);
          else {
            await trx
              .updateTable('breakglass_unseals')
              .set({ secret_enc: null })
              .where('id', '=', row.id)
              .execute();
          }
        });
        n += 1;
      }
      return n;
    },

    /** The latest attempt of a seal that opened it, since `since` (the drill's unseal step). */
    async lastOpened(sealId: string, since: Date): Promise<UnsealRow | undefined> {
      return db
        .selectFrom('breakglass_unseals')
        .selectAll()
        .where('seal_id', '=', sealId)
        .where('state', '=', 'done')
        .where('ended_at', '>=', since.getTime())
        .orderBy('ended_at', 'desc')
        .limit(1)
        .executeTakeFirst();
    },
  };
}

export type Unseal = ReturnType<typeof createUnseal>;
