import { useState } from 'react';
import { StepUpPanel } from '../step-up/step-up-panel';

/** Second factors: set up an authenticator app or a security key, and step up before approving. */
export function FactorsPage() {
  const [done, setDone] = useState(false);
  return (
    <>
      <h1>Second factors</h1>
      <p>
        Approving sensitive or critical access needs a second factor verified in the last few minutes. Set one
        up here (a first one within five minutes of signing in), then verify it when asked.
      </p>
      {done ? (
        <p role="status" className="done">
          Verified: approvals will not ask again for a while.
        </p>
      ) : null}
      <StepUpPanel onVerified={() => setDone(true)} />
    </>
  );
}
