import { api, ok } from '../api/client';
import { useLoad } from '../hooks/use-load';
import { ErrorNote } from './error-note';
import { When } from './when';

/** One line of a PostgreSQL proxy's statement log (the PostgreSQL proxy writes it), as the page reads it. */
interface Statement {
  at: string;
  statement: string;
  protocol: string;
  durationMs: number;
  rows: number | null;
  error: { code: string; message: string } | null;
}

function parse(text: string): Statement[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Statement);
}

/**
 * A database session's statement log, a table rather than a player: fetched under this session's cookie from the
 * same route as a terminal recording (each segment checked against the audit trail before it is sent).
 */
export function StatementLog({ recordingId }: { recordingId: string }) {
  const log = useLoad(
    () =>
      ok(
        api.GET('/v1/recordings/{id}/cast', { params: { path: { id: recordingId } }, parseAs: 'text' }),
      ) as Promise<string>,
    [recordingId],
  );
  if (log.error) return <ErrorNote error={log.error} />;
  if (log.data === undefined) return <p className="muted">Loading the statement log…</p>;
  const statements = parse(log.data);
  if (statements.length === 0) return <p className="muted">No statement was run.</p>;
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard
    <section className="table-wrap" aria-label={`Statements of ${recordingId}, scrolling`} tabIndex={0}>
      <table>
        <caption className="visually-hidden">Statements of {recordingId}</caption>
        <thead>
          <tr>
            <th scope="col">At</th>
            <th scope="col">Statement</th>
            <th scope="col">Protocol</th>
            <th scope="col">Duration</th>
            <th scope="col">Rows</th>
            <th scope="col">Error</th>
          </tr>
        </thead>
        <tbody>
          {statements.map((s, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: the log is append-only; a line's place is its identity
            <tr key={i}>
              <td>
                <When iso={s.at} />
              </td>
              <td>
                <code className="wrap">{s.statement}</code>
              </td>
              <td>{s.protocol}</td>
              <td>{s.durationMs} ms</td>
              <td>{s.rows ?? '—'}</td>
              <td>{s.error ? `${s.error.code} ${s.error.message}` : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
