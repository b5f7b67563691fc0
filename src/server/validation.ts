import { Ajv } from 'ajv';
import type { FastifyInstance, FastifySchema } from 'fastify';

/**
 * Bodies are JSON and must match their schema exactly: no coercion ("5" is not 5) and unknown fields are an
 * error rather than silently dropped. Query strings and path parameters arrive as text, so they alone coerce.
 */
export function registerValidation(app: FastifyInstance): void {
  const strict = new Ajv({
    removeAdditional: false,
    coerceTypes: false,
    useDefaults: true,
    allErrors: false,
  });
  const textual = new Ajv({
    removeAdditional: false,
    coerceTypes: 'array',
    useDefaults: true,
    allErrors: false,
  });
  app.setValidatorCompiler(({ schema, httpPart }: { schema: FastifySchema; httpPart?: string }) =>
    (httpPart === 'body' ? strict : textual).compile(schema as object),
  );
}
