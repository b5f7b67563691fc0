import { StintError } from '../domain/errors.js';
import type { Logger } from '../logger.js';

/** Shorter secrets would blank out ordinary words; a configured secret is never this short. */
const MIN_SECRET = 4;

/**
 * Removes every configured secret from a text, verbatim and URL-encoded (a driver may echo either), as Vault's
 * sanitising middleware does for its plugins' errors. Kinds list their secrets in their config; none redacts by hand.
 */
export function scrubText(text: string, secrets: readonly string[]): string {
  let out = text;
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s.length < MIN_SECRET) continue;
    forms.add(s);
    forms.add(encodeURIComponent(s));
  }
  // Longest first, so a URL holding a password goes whole, not as pieces around it.
  for (const s of [...forms].sort((a, b) => b.length - a.length)) out = out.split(s).join('[redacted]');
  return out;
}

/** The same, through every string of a plain value (log fields, error details). */
export function scrubValue(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return scrubText(value, secrets);
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, secrets));
  if (value instanceof Error) return scrubText(value.message, secrets);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubValue(v, secrets)]));
  }
  return value;
}

/**
 * A failure as the caller may see it: a StintError keeps its code and details with secrets removed; anything
 * else (a driver's own error escaping a provider) becomes PROVIDER_ERROR with its message scrubbed.
 */
export function scrubError(err: unknown, secrets: readonly string[], what: string): StintError {
  if (err instanceof StintError) {
    const message = scrubText(err.message, secrets);
    if (message === err.message && !err.details) return err;
    const details = err.details ? (scrubValue(err.details, secrets) as typeof err.details) : undefined;
    // Same code and shape of details as the original; only strings inside changed.
    const Ctor = StintError as unknown as new (
      code: string,
      message: string,
      details?: unknown,
    ) => StintError;
    return new Ctor(err.code, message, details);
  }
  const raw = err instanceof Error ? err.message : String(err);
  return new StintError('PROVIDER_ERROR', `${what}: ${scrubText(raw, secrets)}`);
}

/** A logger that scrubs the configured secrets from every line, fields and message alike. */
export function scrubbingLogger(logger: Logger, secrets: readonly string[]): Logger {
  if (secrets.length === 0) return logger;
  const line =
    (level: keyof Logger) =>
    (obj: object, msg?: string): void => {
      const fields = scrubValue(obj, secrets) as object;
      if (msg === undefined) logger[level](fields);
      else logger[level](fields, scrubText(msg, secrets));
    };
  return { info: line('info'), warn: line('warn'), error: line('error') };
}
