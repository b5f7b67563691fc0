import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { SYSTEM_ACTOR } from '../domain/state-machine.js';
import { BREAKGLASS_DEFAULTS } from '../policy/breakglass-policy.js';
import type { BreakglassDeps } from './breakglass-deps.js';
import { asShared, bgDb } from './breakglass-tables.js';
import { entryForResource } from './entries.js';
import { openPostmortem } from './postmortems.js';
import {
  OFFLINE_RECORD_KIND,
  offlineRecordId,
  type SignedOfflineRecord,
  verifyOfflineRecord,
} from './seal-crypto.js';
import { STINT_SCOPE } from './seals.js';

/** Where records already read are moved, inside the record folder. */
export const INGESTED_DIR = 'ingested';

function shapeOf(value: unknown): SignedOfflineRecord | null {
  const v = value as SignedOfflineRecord | null;
  const r = v?.record;
  const ok =
    typeof v?.signature === 'string' &&
    r?.kind === OFFLINE_RECORD_KIND &&
    r.v === 1 &&
    typeof r.sealId === 'string' &&
    typeof r.scope === 'string' &&
    typeof r.at === 'string' &&
    typeof r.reason === 'string' &&
    typeof r.operator === 'string' &&
    typeof r.host === 'string' &&
    typeof r.nonce === 'string' &&
    Array.isArray(r.officers) &&
    r.officers.every((o) => typeof o === 'string');
  return ok ? (v as SignedOfflineRecord) : null;
}

/**
 * Offline unseals, learnt when Stint is back. The offline tool (`stint breakglass unseal --offline`) writes a
 * record signed with the key inside the seal, to the record folder, before it shows the secret. The server reads
 * that folder at every start and each minute: a record whose signature verifies against the seal's public key is
 * a use only an unseal could make: `breakglass.offline_unsealed` (alerting security), the seal forced to rotation
 * (`breakglass.rotation_required`; /readyz names it until re-sealed, and its postmortem cannot close before),
 * and a postmortem opened. A record that does not verify is alerted as forged (`breakglass.offline_record_refused`).
 * Each record is taken once, by its hash, whichever server reads it first; it is then moved to `ingested/`.
 */
export function createOfflineRecords(
  deps: Pick<BreakglassDeps, 'store' | 'audit' | 'clock' | 'policy' | 'logger' | 'config'>,
) {
  const db = bgDb(deps.store);
  const dir = deps.config?.recordDir ?? null;

  async function ingestOne(file: string): Promise<boolean> {
    const text = await readFile(file, 'utf8');
    const id = offlineRecordId(text);
    if (
      await db.selectFrom('breakglass_offline_records').select('id').where('id', '=', id).executeTakeFirst()
    ) {
      return false;
    }
    let signed: SignedOfflineRecord | null = null;
    try {
      signed = shapeOf(JSON.parse(text));
    } catch {
      signed = null;
    }
    const seal = signed
      ? await db
          .selectFrom('breakglass_seals')
          .selectAll()
          .where('id', '=', signed.record.sealId)
          .executeTakeFirst()
      : undefined;
    const why = !signed
      ? 'not an offline unseal record'
      : !seal
        ? `no seal ${signed.record.sealId} in this store`
        : seal.scope !== signed.record.scope || !verifyOfflineRecord(signed, seal.record_key)
          ? 'its signature does not verify with the seal’s record key: not made by an unseal'
          : null;
    const now = deps.clock();
    return db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('breakglass_offline_records')
        .values({
          id,
          seal_id: seal?.id ?? null,
          file: basename(file),
          accepted: why === null ? 1 : 0,
          ingested_at: now.getTime(),
        })
        .onConflict((oc) => oc.column('id').doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) !== 1) return false;
      if (why !== null || !signed || !seal) {
        await deps.audit.append(asShared(trx), {
          at: now,
          actor: SYSTEM_ACTOR,
          action: 'breakglass.offline_record_refused',
          requestId: null,
          details: { recordId: id, file: basename(file), why, alert: true, notify: ['security'] },
        });
        return true;
      }
      const r = signed.record;
      const target = seal.scope === STINT_SCOPE ? null : { resource: seal.scope };
      await trx
        .updateTable('breakglass_seals')
        .set({
          state: seal.state === 'retired' ? 'retired' : 'rotation_required',
          uses: seal.uses + 1,
          rotation_reason: `opened offline at ${r.at} (record ${id})`,
        })
        .where('id', '=', seal.id)
        .execute();
      await deps.audit.append(asShared(trx), [
        {
          at: now,
          actor: SYSTEM_ACTOR,
          action: 'breakglass.offline_unsealed',
          requestId: null,
          target,
          details: {
            recordId: id,
            sealId: seal.id,
            scope: seal.scope,
            unsealedAt: r.at,
            reason: r.reason,
            officers: r.officers,
            operator: r.operator,
            host: r.host,
            alert: true,
            notify: ['security'],
          },
        },
        {
          at: now,
          actor: SYSTEM_ACTOR,
          action: 'breakglass.rotation_required',
          requestId: null,
          target,
          details: {
            sealId: seal.id,
            scope: seal.scope,
            recordId: id,
            reason: `opened offline at ${r.at}`,
            retired: seal.state === 'retired',
            alert: true,
            notify: ['security'],
          },
        },
      ]);
      const entry =
        seal.scope === STINT_SCOPE ? undefined : entryForResource(deps.policy.current(), seal.scope);
      await openPostmortem(
        trx,
        deps.audit,
        {
          subjectRef: `offline:${id}`,
          sealId: seal.id,
          ...(target ? { resource: seal.scope } : {}),
          owner: entry?.postmortem.owner ?? seal.created_by,
          dueSeconds: entry?.postmortem.dueSeconds ?? BREAKGLASS_DEFAULTS.postmortemDueSeconds,
          classification: 'emergency',
          timeline: [{ seq: -1, at: r.at, actor: r.operator, action: 'breakglass.offline_unseal (record)' }],
        },
        now,
      );
      return true;
    });
  }

  return {
    /** Reads every record in the folder; answers how many were new. A missing folder has none. */
    async ingest(signal?: AbortSignal): Promise<number> {
      if (dir === null) return 0;
      let names: string[];
      try {
        names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
        throw e;
      }
      let n = 0;
      for (const name of names) {
        if (signal?.aborted) break;
        const file = join(dir, name);
        try {
          if (await ingestOne(file)) {
            n += 1;
            deps.logger.warn({ file: name }, 'offline break-glass record ingested: security alerted');
          }
          await mkdir(join(dir, INGESTED_DIR), { recursive: true, mode: 0o700 });
          await rename(file, join(dir, INGESTED_DIR, name)).catch(() => {});
        } catch (err) {
          // Another server sharing the folder took it first (and moved it): nothing was lost.
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
          deps.logger.error(
            { err, file: name },
            'reading an offline break-glass record failed; retried next turn',
          );
        }
      }
      return n;
    },
  };
}

export type OfflineRecords = ReturnType<typeof createOfflineRecords>;
