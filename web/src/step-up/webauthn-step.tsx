import { useId, useState } from 'react';
import { ApiError, api, ok } from '../api/client';
import type { MfaStatus } from '../api/types';
import { ErrorNote } from '../components/error-note';
import { creationOptions, credentialJson, requestOptions } from './webauthn-json';

/** A browser refusal (the person cancelled, no key answered) in the API's error shape, so it reads the same. */
const browserError = (e: unknown) =>
  e instanceof ApiError
    ? e
    : new ApiError(0, 'MFA_INVALID', `the browser or authenticator refused: ${(e as Error).message ?? e}`);

/** WebAuthn in the page: register a security key or passkey, and step up with one. */
export function WebAuthnStep({
  status,
  onVerified,
  onChanged,
}: {
  status: MfaStatus;
  onVerified(): void;
  onChanged(): void;
}) {
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const headingId = useId();
  const has = status.webauthnCredentials > 0;
  const supported = typeof window.PublicKeyCredential === 'function';

  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(browserError(e));
    } finally {
      setBusy(false);
    }
  };

  const register = () =>
    run(async () => {
      const options = await ok(api.POST('/v1/mfa/webauthn/register/options'));
      const cred = (await navigator.credentials.create({
        publicKey: creationOptions(options),
      })) as PublicKeyCredential | null;
      if (!cred) throw new Error('no credential was made');
      await ok(api.POST('/v1/mfa/webauthn/register/verify', { body: { response: credentialJson(cred) } }));
      onChanged();
    });

  const use = () =>
    run(async () => {
      const options = await ok(api.POST('/v1/mfa/webauthn/authenticate/options'));
      const cred = (await navigator.credentials.get({
        publicKey: requestOptions(options),
      })) as PublicKeyCredential | null;
      if (!cred) throw new Error('no key answered');
      await ok(
        api.POST('/v1/mfa/webauthn/authenticate/verify', { body: { response: credentialJson(cred) } }),
      );
      onVerified();
    });

  return (
    <section className="factor" aria-labelledby={headingId}>
      <h3 id={headingId}>Security key or passkey (WebAuthn)</h3>
      {!supported ? <p>This browser has no WebAuthn.</p> : null}
      <p>{has ? `${status.webauthnCredentials} registered.` : 'None registered yet.'}</p>
      <div className="actions">
        {has ? (
          <button type="button" onClick={use} disabled={busy || !supported}>
            Use security key
          </button>
        ) : null}
        <button
          type="button"
          className={has ? 'secondary' : ''}
          onClick={register}
          disabled={busy || !supported}
        >
          Register {has ? 'another' : 'a'} security key
        </button>
      </div>
      <ErrorNote error={error} />
    </section>
  );
}
