import pg from 'pg';

/** Connects as an issued credential would be used by psql; resolves to the client or rejects with the error. */
export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  // A terminated backend surfaces as an 'error' event on an idle client; keep it from crashing the test run.
  client.on('error', () => {});
  await client.connect();
  return client;
}

export async function loginError(url: string): Promise<string | null> {
  try {
    const c = await connect(url);
    await c.end();
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** Resolves with the instant the server ended this client's session. */
export function sessionEnded(client: pg.Client): Promise<number> {
  return new Promise((resolve) => {
    const done = () => resolve(Date.now());
    client.once('error', done);
    client.once('end', done);
  });
}

export async function waitFor<T>(
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
