import { InvalidArgumentError } from 'commander';

/** Commander argument parser for counts, ports and sequence numbers: a bad value is a usage error (exit 2). */
export function integerArg(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}.`);
    }
    return n;
  };
}

/** Drops absent flags, so the callee's own defaults (environment, config) apply instead of `undefined`. */
export function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
