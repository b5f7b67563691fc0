import { api, ok } from '../api/client';
import { ErrorNote } from '../components/error-note';
import { When } from '../components/when';
import { useLoad } from '../hooks/use-load';
import { TotpStep } from './totp-step';
import { WebAuthnStep } from './webauthn-step';

/** Both second factors of the signed-in person: set one up, or step up with one. */
export function StepUpPanel({ onVerified }: { onVerified(): void }) {
  const status = useLoad(() => ok(api.GET('/v1/mfa')), []);
  const verified = async () => {
    await status.reload();
    onVerified();
  };
  if (!status.data) return status.error ? <ErrorNote error={status.error} /> : <p>Loading…</p>;
  const s = status.data;
  return (
    <div className="step-up">
      <p>
        {s.validUntil && new Date(s.validUntil) > new Date() ? (
          <>
            Your last step-up counts until <When iso={s.validUntil} />.
          </>
        ) : (
          <>No recent step-up: a verified factor counts for {Math.round(s.maxAgeSeconds / 60)} minutes.</>
        )}
      </p>
      <TotpStep status={s} onVerified={verified} onChanged={status.reload} />
      <WebAuthnStep status={s} onVerified={verified} onChanged={status.reload} />
    </div>
  );
}
