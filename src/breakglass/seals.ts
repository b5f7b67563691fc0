import { createPublicKey } from 'node:crypto';
import type { Actor } from '../domain/actor.js';
import { StintError } from '../domain/errors.js';
import type { BreakglassDeps } from './breakglass-deps.js';
import { asShared, type BgDatabase, type BgDb, bgDb } from './breakglass-tables.js';
import { type CreateSealInput, isStaff, type SealState, type SealView } from './breakglass-types.js';
import { entryForResource, mayBreakGlass } from './entries.js';
import { SEAL_ID, type SealBundle, type SealOfficer, validateSealShape } from './seal-crypto.js';

/** The scope of a seal that is Stint's own recovery secret rather than a resource's emergency credential. */
export const STINT_SCOPE = 'stint';

type SealRow = BgDatabase['breakglass_seals'];

export const officersOf = (row: Pick<SealRow, 'officers'>): SealOfficer[] => JSON.parse(row.officers);

export function bundleOf(row: SealRow): SealBundle {
  return {
    v: 1,
    id: row.id,
    scope: row.scope,
    label: row.label,
    threshold: row.threshold,
    officers: officersOf(row),
    sealed: row.sealed,
    recordKey: row.record_key,
  };
}

export function sealView(row: SealRow): SealView {
  return {
    id: row.id,
    scope: row.scope,
    label: row.label,
    threshold: row.threshold,
    officers: officersOf(row).map((o) => o.user),
    state: row.state as SealState,
    uses: row.uses,
    rotationReason: row.rotation_reason,
    createdBy: row.created_by,
    createdAt: new Date(row.created_at).toISOString(),
  };
}

export async function liveSeal(db: BgDb, scope: string): Promise<SealRow | undefined> {
  return db.selectFrom('breakglass_seals').selectAll().where('live_scope', '=', scope).executeTakeFirst();
}

const SEALED = /^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/;

function checkRecordKey(text: string): void {
  try {
    const key = createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType === 'ed25519') return;
  } catch {
    // refused below
  }
  throw new StintError('BAD_REQUEST', 'recordKey must be an Ed25519 public key (SPKI, base64)');
}

/**
 * Sealed secrets. The CLI seals on the operator's machine (`stint breakglass seal`) and sends the server what is
 * not secret: the ciphertext, who holds shares, each share's commitment, the record-signing public key. A new
 * seal for a scope retires the one before; new officers make a drill due (the drill schedule counts from then).
 */
export function createSeals(deps: Pick<BreakglassDeps, 'store' | 'audit' | 'clock' | 'policy' | 'stepUp'>) {
  const db = bgDb(deps.store);

  return {
    async create(actor: Actor, input: CreateSealInput): Promise<SealView> {
      if (!actor.security && !actor.admin) {
        throw new StintError(
          'FORBIDDEN',
          `${actor.userId} may not seal break-glass secrets: security or an admin may`,
        );
      }
      const policy = deps.policy.current();
      if (!SEAL_ID.test(input.id)) throw new StintError('BAD_REQUEST', 'id must be seal_ and 16 hex digits');
      if (input.scope !== STINT_SCOPE && !policy.resources.has(input.scope)) {
        throw new StintError('UNKNOWN_RESOURCE', `unknown resource "${input.scope}" (or "${STINT_SCOPE}")`);
      }
      const users = input.officers.map((o) => o.user);
      validateSealShape({ threshold: input.threshold, officers: users });
      for (const o of input.officers) {
        if (!policy.users.has(o.user)) throw new StintError('UNKNOWN_USER', `unknown user "${o.user}"`);
        if (!/^[0-9a-f]{64}$/.test(o.commitment)) {
          throw new StintError('BAD_REQUEST', `the commitment of ${o.user}'s share must be 64 hex digits`);
        }
      }
      if (!SEALED.test(input.sealed))
        throw new StintError('BAD_REQUEST', 'sealed is not an AES-256-GCM seal (v1)');
      checkRecordKey(input.recordKey);
      await deps.stepUp.require(actor, 'sealing a break-glass secret');
      const now = deps.clock();
      const row: SealRow = {
        id: input.id,
        scope: input.scope,
        live_scope: input.scope,
        label: input.label.trim(),
        threshold: input.threshold,
        officers: JSON.stringify(input.officers.map((o) => ({ user: o.user, commitment: o.commitment }))),
        sealed: input.sealed,
        record_key: input.recordKey,
        state: 'active',
        uses: 0,
        rotation_reason: null,
        created_by: actor.userId,
        created_at: now.getTime(),
        retired_at: null,
      };
      await db.transaction().execute(async (trx) => {
        if (
          await trx.selectFrom('breakglass_seals').select('id').where('id', '=', input.id).executeTakeFirst()
        ) {
          throw new StintError('BAD_REQUEST', `seal ${input.id} exists already: seal again for a new id`);
        }
        const before = await liveSeal(trx, input.scope);
        if (before) {
          await trx
            .updateTable('breakglass_seals')
            .set({ live_scope: null, state: 'retired', retired_at: now.getTime() })
            .where('id', '=', before.id)
            .execute();
        }
        await trx.insertInto('breakglass_seals').values(row).execute();
        const previous = before
          ? officersOf(before)
              .map((o) => o.user)
              .sort()
          : [];
        const officersChanged = JSON.stringify(previous) !== JSON.stringify([...users].sort());
        if (officersChanged && input.scope !== STINT_SCOPE) {
          await trx
            .insertInto('breakglass_drill_schedule')
            .values({
              resource: input.scope,
              since: now.getTime(),
              officers_changed_at: now.getTime(),
              last_alert_at: null,
            })
            .onConflict((oc) => oc.column('resource').doUpdateSet({ officers_changed_at: now.getTime() }))
            .execute();
        }
        await deps.audit.append(asShared(trx), {
          at: now,
          actor: actor.userId,
          action: 'breakglass.sealed',
          requestId: null,
          target: input.scope === STINT_SCOPE ? null : { resource: input.scope },
          details: {
            sealId: input.id,
            scope: input.scope,
            label: row.label,
            threshold: input.threshold,
            officers: users,
            replaced: before?.id ?? null,
            // Re-sealing a secret that was opened is its rotation.
            rotated: before?.state === 'rotation_required',
            officersChanged,
            alert: true,
            notify: ['security'],
          },
          ...(actor.source ? { source: actor.source } : {}),
        });
      });
      return sealView(row);
    },

    /**
     * Seals as far as the caller has a part in them: security, auditors and admins see every seal; others those
     * they hold a share of, or whose resource they may break glass on. Who the officers are is not for everyone.
     */
    async list(actor: Actor): Promise<SealView[]> {
      const rows = await db
        .selectFrom('breakglass_seals')
        .selectAll()
        .orderBy('created_at', 'desc')
        .limit(200)
        .execute();
      const policy = deps.policy.current();
      const user = policy.users.get(actor.userId);
      const mine = (row: SealRow) => {
        if (isStaff(actor) || officersOf(row).some((o) => o.user === actor.userId)) return true;
        const entry = row.scope === STINT_SCOPE ? undefined : entryForResource(policy, row.scope);
        return entry !== undefined && mayBreakGlass(entry, user);
      };
      return rows.filter(mine).map(sealView);
    },

    /** Seals opened and not yet re-sealed: named by /readyz until someone rotates them. */
    async needingRotation(): Promise<SealRow[]> {
      return db
        .selectFrom('breakglass_seals')
        .selectAll()
        .where('state', '=', 'rotation_required')
        .where('live_scope', 'is not', null)
        .execute();
    },
  };
}

export type Seals = ReturnType<typeof createSeals>;
