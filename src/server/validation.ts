import { Ajv } from 'ajv';
import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify';
import { StintError } from '../domain/errors.js';
import { registerJsonBody, textProblem } from '../http/json-body.js';
import { coerceText } from './text-coercion.js';

/**
 * Bodies are JSON and must match their schema exactly: no coercion ("5" is not 5) and unknown fields are an
 * error rather than silently dropped. Query strings and path parameters arrive as text, so they alone are
 * converted, and only from canonical text (text-coercion.ts).
 * A route that declares no body takes none.
 */
export function registerValidation(app: FastifyInstance): void {
  const strict = new Ajv({
    removeAdditional: false,
    coerceTypes: false,
    useDefaults: true,
    allErrors: false,
  });
  app.setValidatorCompiler(({ schema, httpPart }: { schema: FastifySchema; httpPart?: string }) => {
    const validate = strict.compile(schema as object);
    if (httpPart === 'body') return validate;
    // Text (query, path): canonical numbers and booleans become values first, then the same strict check.
    const textual = (data: unknown) => {
      coerceText(schema, data);
      const ok = validate(data);
      textual.errors = validate.errors;
      return ok;
    };
    textual.errors = validate.errors;
    return textual;
  });
  registerJsonBody(app);
  app.addHook('preValidation', async (request) => {
    for (const [part, values] of [
      ['query', request.query],
      ['path', request.params],
    ] as const) {
      for (const [key, value] of Object.entries((values ?? {}) as Record<string, unknown>)) {
        for (const text of Array.isArray(value) ? value : [value]) {
          const problem = typeof text === 'string' ? (textProblem(key) ?? textProblem(text)) : null;
          if (problem) throw new StintError('VALIDATION_FAILED', `invalid ${part} parameter: ${problem}`);
        }
      }
    }
    if (request.is404 || request.routeOptions.schema?.body !== undefined) return;
    if (carriesBody(request)) {
      throw new StintError(
        'VALIDATION_FAILED',
        `${request.method} ${request.routeOptions.url} takes no body`,
      );
    }
  });
}

/**
 * Whether the request carries a body at all, by HTTP's own framing (RFC 9112 §6.3): Fastify parses none for GET
 * and HEAD, and `null`, `[]` or `""` parse to values as real as any. An empty body is no body.
 */
function carriesBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
