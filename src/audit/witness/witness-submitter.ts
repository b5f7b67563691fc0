import type { Kysely } from 'kysely';
import type { Logger } from '../../logger.js';
import type { Database } from '../../store/schema.js';
import { addCheckpoint, type SubmitOutcome } from './witness-client.js';
import type { WitnessConfig } from './witness-config.js';

/** A witness's refusal of one of our checkpoints: the alarm for a rollback or fork. */
export interface WitnessRefusal {
  readonly witness: string;
  /** The witness's HTTP status (409: it cosigned another size, `witnessSize`; 422: the proof failed; …). */
  readonly status: number;
  readonly witnessSize?: number;
}

const MAX_REFUSALS_KEPT = 1000;

export interface WitnessSubmitterDeps {
  db: Kysely<Database>;
  logger: Logger;
  witnesses: readonly WitnessConfig[];
  consistencyProof(oldSize: number, newSize: number): Promise<Uint8Array[]>;
}

/**
 * Sends each new checkpoint to the configured witnesses (after it is committed, never inside a transaction) and
 * keeps their cosignatures beside it (`audit_cosignatures`). A witness that refuses — it has seen a larger or
 * other tree — is the alarm this exists for: the log was rolled back or forked. That is logged as an error and
 * never retried into agreement; fixing it is an operator's job.
 */
export function createWitnessSubmitter(deps: WitnessSubmitterDeps) {
  /** The size each witness last cosigned for us, as far as we know. */
  const known = new Map<string, number>();
  /**
   * Refusals (409/422/…) by checkpoint size, served beside the checkpoints so a verifier fails at once instead
   * of waiting out its grace. Kept in memory: advisory (a compromised server would not serve them anyway; the
   * verifier's own clock is what cannot be fooled), and the newest few are what matters.
   */
  const refused = new Map<number, WitnessRefusal[]>();

  function recordRefusal(size: number, refusal: WitnessRefusal): void {
    const list = refused.get(size) ?? [];
    if (!list.some((r) => r.witness === refusal.witness)) list.push(refusal);
    refused.set(size, list);
    while (refused.size > MAX_REFUSALS_KEPT) refused.delete(refused.keys().next().value as number);
  }

  async function lastCosigned(name: string): Promise<number> {
    const cached = known.get(name);
    if (cached !== undefined) return cached;
    const row = await deps.db
      .selectFrom('audit_cosignatures')
      .select((eb) => eb.fn.max('size').as('size'))
      .where('witness', '=', name)
      .executeTakeFirst();
    return row?.size == null ? 0 : Number(row.size);
  }

  async function submitTo(w: WitnessConfig, size: number, note: string): Promise<SubmitOutcome> {
    let old = await lastCosigned(w.verifier.name);
    // One resubmission: a 409 tells us the witness's size (e.g. our record of it was lost).
    for (let attempt = 0; ; attempt++) {
      const proof = old === 0 || old === size ? [] : await deps.consistencyProof(old, size);
      const outcome = await addCheckpoint(w, old, proof, note);
      if (outcome.ok || !('conflict' in outcome) || attempt > 0 || outcome.conflict > size) return outcome;
      old = outcome.conflict;
    }
  }

  return {
    /** Submits the checkpoint of `size` to every witness that has not cosigned it; returns each outcome. */
    async submit(checkpoint: { size: number; note: string }): Promise<Map<string, SubmitOutcome>> {
      const outcomes = new Map<string, SubmitOutcome>();
      await Promise.all(
        deps.witnesses.map(async (w) => {
          const name = w.verifier.name;
          if ((known.get(name) ?? -1) >= checkpoint.size) return;
          let outcome: SubmitOutcome;
          try {
            outcome = await submitTo(w, checkpoint.size, checkpoint.note);
          } catch (err) {
            deps.logger.warn({ err, witness: name }, 'audit witness unreachable');
            return;
          }
          outcomes.set(name, outcome);
          if (outcome.ok) {
            await deps.db
              .insertInto('audit_cosignatures')
              .values({
                size: checkpoint.size,
                witness: name,
                lines: outcome.lines.join('\n'),
                created_at: Date.now(),
              })
              .onConflict((oc) => oc.columns(['size', 'witness']).doNothing())
              .execute();
            known.set(name, checkpoint.size);
          } else if ('conflict' in outcome) {
            recordRefusal(checkpoint.size, { witness: name, status: 409, witnessSize: outcome.conflict });
            deps.logger.error(
              { witness: name, witnessSize: outcome.conflict, logSize: checkpoint.size },
              `audit witness ${name} has cosigned size ${outcome.conflict} and refuses ${checkpoint.size}: ` +
                'the audit log was rolled back or forked',
            );
          } else {
            // A 4xx is the witness's answer about this checkpoint; a 5xx is its own trouble, retried next time.
            if (outcome.status < 500)
              recordRefusal(checkpoint.size, { witness: name, status: outcome.status });
            deps.logger.error(
              { witness: name, status: outcome.status, answer: outcome.message, logSize: checkpoint.size },
              `audit witness ${name} refused checkpoint ${checkpoint.size} (HTTP ${outcome.status})`,
            );
          }
        }),
      );
      return outcomes;
    },

    /** The refusals this server got for the checkpoint of `size` (empty when none). */
    refusals(size: number): readonly WitnessRefusal[] {
      return refused.get(size) ?? [];
    },

    /** The note of `size` with the cosignatures kept for it appended (still a valid signed note). */
    async withCosignatures(size: number, note: string): Promise<string> {
      const rows = await deps.db
        .selectFrom('audit_cosignatures')
        .select('lines')
        .where('size', '=', size)
        .orderBy('witness')
        .execute();
      const extra = rows.flatMap((r) => r.lines.split('\n')).filter((l) => l !== '' && !note.includes(l));
      return extra.length === 0 ? note : `${note}${extra.map((l) => `${l}\n`).join('')}`;
    },
  };
}

export type WitnessSubmitter = ReturnType<typeof createWitnessSubmitter>;
