import type { Json } from './scim-attributes.js';
import { badRequest } from './scim-errors.js';

/** Listing SCIM resources (RFC 7644 §3.4.2): the `eq` filters IdPs reconcile with, paging, ListResponse. */

export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

export interface ScimFilter {
  attr: string;
  value: string;
}

/**
 * The filters IdPs send when they reconcile: `attr eq "value"` (RFC 7644 §3.4.2.2). Other operators and
 * compound filters are refused with invalidFilter rather than being answered wrongly.
 */
export function parseFilter(filter: string, attributes: readonly string[]): ScimFilter {
  const m = /^\s*([A-Za-z][\w.:$-]*)\s+([A-Za-z]{2})\s+"((?:[^"\\]|\\.)*)"\s*$/.exec(filter);
  if (m === null) throw badRequest(`unsupported or malformed filter: ${filter}`, 'invalidFilter');
  const [, attr = '', op = '', value = ''] = m;
  if (op.toLowerCase() !== 'eq')
    throw badRequest(`only the eq operator is supported, not ${op}`, 'invalidFilter');
  const known = attributes.find((a) => a.toLowerCase() === attr.toLowerCase());
  if (known === undefined) {
    throw badRequest(
      `filtering on ${attr} is not supported (supported: ${attributes.join(', ')})`,
      'invalidFilter',
    );
  }
  return { attr: known, value: value.replace(/\\(.)/g, '$1') };
}

/** startIndex is 1-based; a count of 0 asks for the total only (RFC 7644 §3.4.2.4). */
export function parsePage(query: { startIndex?: unknown; count?: unknown }, max: number) {
  const int = (v: unknown, name: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (typeof v !== 'string' || v.trim() === '' || !Number.isInteger(n)) {
      throw badRequest(`${name} must be an integer`, 'invalidValue');
    }
    return n;
  };
  const startIndex = Math.max(1, int(query.startIndex, 'startIndex') ?? 1);
  const count = Math.min(max, Math.max(0, int(query.count, 'count') ?? max));
  return { startIndex, count };
}

export function listResponse(all: readonly Json[], page: { startIndex: number; count: number }): Json {
  const items = all.slice(page.startIndex - 1, page.startIndex - 1 + page.count);
  return {
    schemas: [LIST_SCHEMA],
    totalResults: all.length,
    startIndex: page.startIndex,
    itemsPerPage: items.length,
    Resources: items,
  };
}
