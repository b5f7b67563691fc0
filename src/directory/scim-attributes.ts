import { badRequest } from './scim-errors.js';

/**
 * Reading SCIM JSON as RFC 7643 asks: attribute names are case-insensitive (§2.1), and IdPs are loose with
 * types (Entra ID sends booleans as strings). Shared by resource validation and PATCH.
 */

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Find `name` in `obj` however it is spelt. */
export function field(obj: Json, name: string): unknown {
  const key = Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : obj[key];
}

/** The key `name` is stored under in `obj`, or `name` itself when absent. */
export function keyOf(obj: Json, name: string): string {
  return Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name;
}

export function optionalString(obj: Json, name: string, where: string): string | undefined {
  const v = field(obj, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badRequest(`${where}${name} must be a string`, 'invalidValue');
  return v;
}

/** Entra ID sends booleans as "True"/"False" strings in PATCH. */
export function toBoolean(v: unknown, name: string): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  throw badRequest(`${name} must be a boolean`, 'invalidValue');
}
