import { createContext, type ReactNode, useCallback, useContext, useEffect, useRef, useState } from 'react';
import { ApiError } from '../api/client';
import { StepUpPanel } from './step-up-panel';

type Ask = (reason: string) => Promise<boolean>;
const StepUp = createContext<Ask | null>(null);

/**
 * Runs `action`; when the server answers 403 MFA_REQUIRED, opens the step-up in the page and, once a factor is
 * verified, runs it once more. Cancelled, the original refusal stands.
 */
export function useStepUp() {
  const ask = useContext(StepUp);
  if (!ask) throw new Error('useStepUp outside StepUpProvider');
  return useCallback(
    async <T,>(action: () => Promise<T>): Promise<T> => {
      try {
        return await action();
      } catch (e) {
        if (!(e instanceof ApiError) || e.code !== 'MFA_REQUIRED') throw e;
        if (!(await ask(e.message))) throw e;
        return action();
      }
    },
    [ask],
  );
}

export function StepUpProvider({ children }: { children: ReactNode }) {
  const [pending, setPending] = useState<{ reason: string; resolve(done: boolean): void } | null>(null);
  const dialog = useRef<HTMLDialogElement>(null);

  const ask = useCallback<Ask>(
    (reason) => new Promise<boolean>((resolve) => setPending({ reason, resolve })),
    [],
  );

  useEffect(() => {
    const d = dialog.current;
    if (pending && d && !d.open) d.showModal();
    if (!pending && d?.open) d.close();
  }, [pending]);

  const finish = (done: boolean) => {
    pending?.resolve(done);
    setPending(null);
  };

  return (
    <StepUp.Provider value={ask}>
      {children}
      <dialog
        ref={dialog}
        aria-labelledby="step-up-title"
        onCancel={(e) => {
          e.preventDefault();
          finish(false);
        }}
      >
        {pending ? (
          <>
            <h2 id="step-up-title">Verify a second factor</h2>
            <p role="status">{pending.reason}</p>
            <StepUpPanel onVerified={() => finish(true)} />
            <button type="button" className="secondary" onClick={() => finish(false)}>
              Cancel
            </button>
          </>
        ) : null}
      </dialog>
    </StepUp.Provider>
  );
}
