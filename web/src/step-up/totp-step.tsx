import { type FormEvent, useId, useState } from 'react';
import { ApiError, api, ok } from '../api/client';
import type { MfaStatus } from '../api/types';
import { ErrorNote } from '../components/error-note';

/**
 * TOTP in the page: enrol (the secret shown once, confirmed with a code), then step up with a later code. The
 * server refuses a code seen before, so the step-up after confirming needs the app's next code.
 */
export function TotpStep({
  status,
  onVerified,
  onChanged,
}: {
  status: MfaStatus;
  onVerified(): void;
  onChanged(): void;
}) {
  const [enrolment, setEnrolment] = useState<{ secret: string; otpauthUrl: string } | null>(null);
  const [code, setCode] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [justConfirmed, setJustConfirmed] = useState(false);
  const codeId = useId();
  const confirmed = status.totp === 'confirmed';

  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, 'INTERNAL', String(e)));
    } finally {
      setBusy(false);
    }
  };

  const enrol = () =>
    run(async () => {
      setEnrolment(await ok(api.POST('/v1/mfa/totp/enroll')));
    });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      if (confirmed) {
        await ok(api.POST('/v1/mfa/verify', { body: { method: 'totp', code } }));
        setCode('');
        onVerified();
      } else {
        await ok(api.POST('/v1/mfa/totp/confirm', { body: { code } }));
        setCode('');
        setEnrolment(null);
        setJustConfirmed(true);
        onChanged();
      }
    });
  };

  return (
    <section className="factor" aria-labelledby={`${codeId}-h`}>
      <h3 id={`${codeId}-h`}>Authenticator app (TOTP)</h3>
      {!confirmed && !enrolment ? (
        <>
          <p>
            No authenticator app is set up
            {status.totp === 'pending' ? ' (an enrolment was started, not confirmed)' : ''}.
          </p>
          <button type="button" onClick={enrol} disabled={busy}>
            Set up an authenticator app
          </button>
        </>
      ) : null}
      {enrolment ? (
        <div className="secret-once">
          <p>Add this key to your authenticator app. It is shown once.</p>
          <p>
            Key: <code data-testid="totp-secret">{enrolment.secret}</code>
          </p>
          <p className="wrap">
            Or open: <a href={enrolment.otpauthUrl}>{enrolment.otpauthUrl}</a>
          </p>
        </div>
      ) : null}
      {justConfirmed && confirmed ? (
        <p role="status">The app is set up. Enter the next code it shows to verify.</p>
      ) : null}
      {confirmed || enrolment ? (
        <form onSubmit={submit}>
          <label htmlFor={codeId}>
            {confirmed ? 'Code from your app' : 'First code from your app, to confirm'}
          </label>
          <input
            id={codeId}
            inputMode="numeric"
            autoComplete="one-time-code"
            pattern="[0-9]{6}"
            maxLength={6}
            required
            value={code}
            onChange={(e) => setCode(e.target.value.trim())}
          />
          <button type="submit" disabled={busy}>
            {confirmed ? 'Verify code' : 'Confirm app'}
          </button>
        </form>
      ) : null}
      <ErrorNote error={error} />
    </section>
  );
}
