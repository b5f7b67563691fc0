import type { Credential } from '../api/types';
import { When } from './when';

/** The credential, once: it is not stored anywhere and the server will not show it again. */
export function CredentialPanel({ credential }: { credential: Credential }) {
  return (
    <section
      className="secret-once"
      aria-label={`Credential for ${credential.requestId}`}
      data-testid="credential"
    >
      <p>
        <strong>Shown once.</strong> Copy it now: neither this page nor the server will show it again. It
        stops working <When iso={credential.expiresAt} />.
      </p>
      <dl>
        <dt>Principal</dt>
        <dd>
          <code>{credential.principal}</code>
        </dd>
        {Object.entries(credential.secret).map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>
              <code className="wrap">{v}</code>
            </dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
