import type { FastifyRequest } from 'fastify';
import type { Transaction } from 'kysely';
import type { Actor } from '../domain/actor.js';
import { StintError } from '../domain/errors.js';
import type { Answer, KeyUse } from '../idempotency/idempotency-service.js';
import type { ChangeOptions } from '../idempotency/recorded-answer.js';
import type { Database } from '../store/schema.js';

/**
 * What the server's hooks put on each request for the routes every capability brings: who is calling
 * (server/authenticate.ts) and the Idempotency-Key it holds (server/idempotency.ts). Routes read them through
 * the two functions below and never import the server.
 */
declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null;
    /** Set while this request holds an Idempotency-Key: the route records its answer with its change. */
    idempotency: {
      record(trx: Transaction<Database>, answer: Answer): Promise<void>;
      recorded: boolean;
      use: KeyUse;
      attempt: string;
    } | null;
  }
  interface FastifyContextConfig {
    /** Must agree with the route's access row (the module's `routes`), which decides. */
    public?: boolean;
    /** The route accepts an Idempotency-Key header (a state change a caller may retry safely). */
    idempotent?: boolean;
  }
}

/** The portal's session cookie. */
export const SESSION_COOKIE = 'stint_session';

export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw new StintError('UNAUTHENTICATED', 'not authenticated');
  return request.actor;
}

/** For a workflow route: its change records its answer, with this status, in its own transaction. */
export function recordedAs(request: FastifyRequest, status: number): ChangeOptions {
  const held = request.idempotency;
  return held ? { record: (trx, body) => held.record(trx, { status, body }) } : {};
}
