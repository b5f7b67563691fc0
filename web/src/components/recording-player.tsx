import { lazy, Suspense } from 'react';
import { api, ok } from '../api/client';
import { useLoad } from '../hooks/use-load';
import { ErrorNote } from './error-note';

/** The player and its stylesheet load with the first recording opened, not with every page of the portal. */
const CastPlayer = lazy(() => import('./cast-player'));

/**
 * A recording, fetched under this session's cookie (the server checks each segment against the audit trail before
 * it sends one byte) and handed to the player as text: the player itself never makes a request.
 */
export function RecordingPlayer({ recordingId, title }: { recordingId: string; title: string }) {
  const cast = useLoad(
    () =>
      ok(
        api.GET('/v1/recordings/{id}/cast', { params: { path: { id: recordingId } }, parseAs: 'text' }),
      ) as Promise<string>,
    [recordingId],
  );
  if (cast.error) return <ErrorNote error={cast.error} />;
  if (cast.data === undefined) return <p className="muted">Loading the recording…</p>;
  return (
    <Suspense fallback={<p className="muted">Loading the player…</p>}>
      <CastPlayer cast={cast.data} title={title} />
    </Suspense>
  );
}
