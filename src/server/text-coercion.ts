/**
 * Query strings and path parameters arrive as text; a schema saying `integer` means decimal digits. Ajv's own
 * coercion takes whatever `Number()` does, so `1e400` and `Infinity` became Infinity (which then passed
 * `maximum` and reached the store as a 500), `0x10` became 16 and ` 5` became 5. Here only canonical text
 * becomes a number or a boolean; anything else stays a string and fails its type.
 */
type PropSchema = { type?: string | readonly string[] };

const INTEGER = /^-?(?:0|[1-9][0-9]{0,15})$/;
const NUMBER = /^-?(?:0|[1-9][0-9]{0,15})(?:\.[0-9]{1,15})?$/;

function coerceOne(value: unknown, schema: PropSchema): unknown {
  if (typeof value !== 'string') return value;
  const types =
    schema.type === undefined ? [] : typeof schema.type === 'string' ? [schema.type] : schema.type;
  if (types.includes('string')) return value;
  if (types.includes('integer') && INTEGER.test(value)) {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value;
  }
  if (types.includes('number') && NUMBER.test(value)) return Number(value);
  if (types.includes('boolean') && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}

/** Converts, in place, the properties of `data` that `schema` declares as numbers or booleans. */
export function coerceText(schema: unknown, data: unknown): void {
  const properties = (schema as { properties?: Record<string, PropSchema> } | null)?.properties;
  if (!properties || data === null || typeof data !== 'object') return;
  const record = data as Record<string, unknown>;
  for (const [key, prop] of Object.entries(properties)) {
    if (Object.hasOwn(record, key)) record[key] = coerceOne(record[key], prop);
  }
}
