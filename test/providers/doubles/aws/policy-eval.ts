/**
 * The part of IAM policy evaluation the double needs: identity policies of a principal, `Allow` and `Deny`
 * statements with `Action`/`Resource` wildcards and the condition operators Stint's policies and the test roles
 * use. An explicit deny wins, then an allow, else the implicit deny. Anything it does not understand (another
 * operator, `NotAction`) throws, so a document the double cannot judge fails the test instead of passing.
 */
export interface PolicyDocument {
  Version?: string;
  Statement: Statement | Statement[];
}

interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface RequestContext {
  action: string;
  /** The ARN acted on; `*` when the action has none. */
  resource: string;
  /** Role tags overlaid with session tags, as `aws:PrincipalTag/<key>` sees them. */
  principalTags: Record<string, string>;
  now: Date;
  tokenIssuedAt?: Date;
}

export type Decision = 'allow' | 'explicit-deny' | 'implicit-deny';

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** IAM's glob: `*` any run, `?` one character; action names compare case-insensitively. */
function glob(pattern: string, value: string, caseless: boolean): boolean {
  const re = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${re}$`, caseless ? 'i' : '').test(value);
}

function contextValue(key: string, ctx: RequestContext): string | undefined {
  const lower = key.toLowerCase();
  if (lower.startsWith('aws:principaltag/')) {
    const tag = key.slice('aws:PrincipalTag/'.length);
    const found = Object.entries(ctx.principalTags).find(([k]) => k.toLowerCase() === tag.toLowerCase());
    return found?.[1];
  }
  if (lower === 'aws:currenttime') return ctx.now.toISOString();
  if (lower === 'aws:tokenissuetime') return ctx.tokenIssuedAt?.toISOString();
  throw new Error(`the AWS double does not evaluate condition key ${key}`);
}

function conditionHolds(operator: string, key: string, wanted: string[], ctx: RequestContext): boolean {
  const actual = contextValue(key, ctx);
  if (actual === undefined) return false;
  switch (operator) {
    case 'StringEquals':
      return wanted.includes(actual);
    case 'StringLike':
      return wanted.some((w) => glob(w, actual, false));
    case 'DateLessThan':
      return wanted.some((w) => Date.parse(actual) < Date.parse(w));
    case 'DateGreaterThan':
      return wanted.some((w) => Date.parse(actual) > Date.parse(w));
    default:
      throw new Error(`the AWS double does not evaluate condition operator ${operator}`);
  }
}

function applies(s: Statement, ctx: RequestContext): boolean {
  for (const k of Object.keys(s)) {
    if (!['Sid', 'Effect', 'Action', 'Resource', 'Condition'].includes(k))
      throw new Error(`the AWS double does not evaluate statement element ${k}`);
  }
  if (!list(s.Action).some((a) => glob(a, ctx.action, true))) return false;
  const resources = list(s.Resource);
  if (resources.length > 0 && !resources.some((r) => glob(r, ctx.resource, false))) return false;
  for (const [operator, keys] of Object.entries(s.Condition ?? {})) {
    for (const [key, values] of Object.entries(keys)) {
      if (!conditionHolds(operator, key, list(values), ctx)) return false;
    }
  }
  return true;
}

export function evaluate(documents: readonly PolicyDocument[], ctx: RequestContext): Decision {
  let allowed = false;
  for (const doc of documents) {
    for (const s of list(doc.Statement)) {
      if (!applies(s, ctx)) continue;
      if (s.Effect === 'Deny') return 'explicit-deny';
      if (s.Effect === 'Allow') allowed = true;
      else throw new Error(`unknown Effect ${String(s.Effect)}`);
    }
  }
  return allowed ? 'allow' : 'implicit-deny';
}
