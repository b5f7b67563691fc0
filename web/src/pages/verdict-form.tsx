import { type FormEvent, useId, useState } from 'react';
import { type ApiError, api, ok } from '../api/client';
import type { Verdict } from '../api/types';
import { ErrorNote } from '../components/error-note';
import { useStepUp } from '../step-up/step-up';

const VERDICTS: { value: Verdict; words: string }[] = [
  { value: 'ok', words: 'ok — nothing out of place' },
  { value: 'concern', words: 'concern — needs a word with the user or their manager' },
  { value: 'incident', words: 'incident — open one' },
];

/**
 * The verdict on a queued session. The server decides who may give it (not the session's user, not an approver
 * of its request, once only) and says why not: its code and message are shown as they come.
 */
export function VerdictForm({
  sessionId,
  onDone,
}: {
  sessionId: string;
  onDone(line: string): Promise<void>;
}) {
  const stepUp = useStepUp();
  const [verdict, setVerdict] = useState<Verdict | ''>('');
  const [notes, setNotes] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const ids = { verdict: useId(), notes: useId() };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!verdict) return;
    setBusy(true);
    setError(null);
    try {
      const body = { verdict, notes: notes.trim() };
      const after = await stepUp(() =>
        ok(api.POST('/v1/session-reviews/{id}/verdict', { params: { path: { id: sessionId } }, body })),
      );
      await onDone(`Reviewed ${sessionId}: ${after.verdict}.`);
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} aria-labelledby="verdict-h" className="card">
      <h2 id="verdict-h">Give the verdict</h2>
      <p className="muted">Once only, and not on a session of your own or one whose request you approved.</p>
      <fieldset>
        <legend>Verdict</legend>
        {VERDICTS.map((v) => (
          <label key={v.value} htmlFor={`${ids.verdict}-${v.value}`} className="choice">
            <input
              type="radio"
              id={`${ids.verdict}-${v.value}`}
              name={ids.verdict}
              value={v.value}
              required
              checked={verdict === v.value}
              onChange={() => setVerdict(v.value)}
            />{' '}
            {v.words}
          </label>
        ))}
      </fieldset>
      <label htmlFor={ids.notes}>Notes</label>
      <textarea
        id={ids.notes}
        rows={3}
        maxLength={4000}
        value={notes}
        onChange={(e) => setNotes(e.target.value)}
      />
      <div className="actions">
        <button type="submit" disabled={busy || !verdict}>
          Record verdict
        </button>
      </div>
      <ErrorNote error={error} />
    </form>
  );
}
