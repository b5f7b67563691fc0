import type { Kysely } from 'kysely';
import type { Logger } from '../../logger.js';
import type { Database } from '../../store/schema.js';
import { addCheckpoint, type SubmitOutcome } from './witness-client.js';
import type { WitnessConfig } from './witness-config.js';

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
            deps.logger.error(
              { witness: name, witnessSize: outcome.conflict, logSize: checkpoint.size },
              `audit witness ${name} has cosigned size ${outcome.conflict} and refuses ${checkpoint.size}: ` +
                'the audit log was rolled back or forked',
            );
          } else {
            deps.logger.error(
              { witness: name, status: outcome.status, answer: outcome.message, logSize: checkpoint.size },
              `audit witness ${name} refused checkpoint ${checkpoint.size} (HTTP ${outcome.status})`,
            );
          }
        }),
      );
      return outcomes;
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
