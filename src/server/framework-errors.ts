import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ScimError } from '../directory/scim-errors.js';
import { errorBody } from '../domain/errors.js';

const SCIM_TYPE = 'application/scim+json; charset=utf-8';

/** SCIM clients read RFC 7644's error body; everyone else reads Stint's `{ error: { code, message } }`. */
const isScimPath = (path: string | null) => path !== null && /^\/scim(?:[/?]|$)/.test(path);

function errorAnswer(path: string | null, status: number, message: string) {
  if (isScimPath(path)) {
    const scimType = status === 400 ? 'invalidSyntax' : undefined;
    return { type: SCIM_TYPE, body: new ScimError(status, message, scimType).toBody() };
  }
  return { type: 'application/json; charset=utf-8', body: errorBody('BAD_REQUEST', message) };
}

/**
 * Requests Fastify refuses before any route or hook sees them: a URL that is not percent-encoded UTF-8, a path
 * parameter over `maxParamLength`. Answered in the shape of the API the path belongs to, and without echoing
 * the offending URL back (it can be kilobytes long).
 */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode !== undefined && err.statusCode >= 400 ? err.statusCode : 400;
  const message =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'a path segment of the URL is too long'
      : err.code === 'FST_ERR_BAD_URL'
        ? 'the URL is not valid percent-encoded UTF-8'
        : 'the request cannot be routed';
  const answer = errorAnswer(request.url, status, message);
  void reply.status(status).type(answer.type).send(answer.body);
}

/** The path of the request line at the start of `raw`, if that is where the packet starts. */
function requestPath(raw: unknown): string | null {
  if (!Buffer.isBuffer(raw)) return null;
  const line = /^[A-Z]+ (\/\S{0,16})/.exec(raw.subarray(0, 64).toString('latin1'));
  return line?.[1] ?? null;
}

/**
 * Node's HTTP parser refusing a request (headers or URL over the 16 KiB limit, a request that never finished,
 * bytes that are not HTTP): no route exists yet, so the answer is written to the socket here, in the shape of
 * the API the request line names when the refused packet starts with it, Stint's otherwise.
 */
export function clientErrorHandler(
  err: Error & { code?: string; rawPacket?: unknown },
  socket: Socket,
): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'the request did not arrive in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'the request line and headers are too large']
        : [400, 'the request is not valid HTTP'];
  const answer = errorAnswer(requestPath(err.rawPacket), status, message);
  const body = JSON.stringify(answer.body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${answer.type}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
