import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';

/** What the CLI's HTTP client asks of fetch; the global fetch fits it, and so does nodeHttpFetch. */
export type FetchLike = (
  url: URL,
  init: { method: string; headers: Record<string, string>; body: string | undefined; signal: AbortSignal },
) => Promise<{ ok: boolean; status: number; statusText: string; text(): Promise<string> }>;

type Request = (url: URL, options: RequestOptions, answer: (res: IncomingMessage) => void) => ClientRequest;

/**
 * The CLI's calls over node:http(s) rather than the global fetch. The first fetch of a process loads and starts
 * undici, which measured 60-130 ms of a `stint request` that otherwise takes a few tens (issue 27, see
 * docs/performance.md). node:http is taken with process.getBuiltinModule (Node ≥ 22.3), not `import`: an ESM
 * import of a builtin reads every export, and node:http's lazy WebSocket export loads undici all the same.
 * The body is read whole before answering; the same signal bounds the wait for it.
 * Failures keep fetch's meaning for the client: a socket error (ECONNREFUSED, ECONNRESET…) carries its code, and
 * the timeout rejects with the AbortSignal's TimeoutError.
 */
export const nodeHttpFetch: FetchLike = async (url, init) => {
  const request: Request = process.getBuiltinModule(
    url.protocol === 'https:' ? 'node:https' : 'node:http',
  ).request;
  return new Promise((resolve, reject) => {
    const fail = (err: unknown) => reject(init.signal.aborted ? init.signal.reason : err);
    const req = request(url, { method: init.method, headers: init.headers, signal: init.signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', fail);
      res.on('close', () => {
        if (!res.complete)
          fail(Object.assign(new Error('connection closed before the answer ended'), { code: 'ECONNRESET' }));
      });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          ok: status >= 200 && status < 300,
          status,
          statusText: res.statusMessage ?? '',
          text: async () => text,
        });
      });
    });
    req.on('error', fail);
    req.end(init.body);
  });
};
