import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Vault's ACL as the double enforces it: policies in HCL (`path "…" { capabilities = [...] }`), a path matched by
 * its most specific rule (exact, then the longest glob prefix; `+` matches one segment), the rule's capabilities
 * or nothing. Enough of Vault's semantics that a policy too narrow for Stint fails here as it would there.
 */
export type Capability = 'create' | 'read' | 'update' | 'delete' | 'list' | 'sudo' | 'deny';

interface Rule {
  pattern: string;
  glob: boolean;
  capabilities: Set<Capability>;
}

export type Policy = Rule[];

export function parsePolicy(hcl: string): Policy {
  const rules: Rule[] = [];
  const text = hcl.replace(/#[^\n]*/g, '');
  const re = /path\s+"([^"]+)"\s*\{\s*capabilities\s*=\s*\[([^\]]*)\]\s*\}/g;
  let m: RegExpExecArray | null = re.exec(text);
  while (m !== null) {
    const pattern = m[1] as string;
    const caps = [...(m[2] as string).matchAll(/"([a-z]+)"/g)].map((c) => c[1] as Capability);
    rules.push({
      pattern: pattern.replace(/\*$/, ''),
      glob: pattern.endsWith('*'),
      capabilities: new Set(caps),
    });
    m = re.exec(text);
  }
  const leftover = text.replace(re, '').trim();
  if (leftover !== '')
    throw new Error(`vault double: cannot read this policy text: ${leftover.slice(0, 80)}`);
  return rules;
}

function matches(rule: Rule, path: string): boolean {
  const pat = rule.pattern.split('/');
  const segs = path.split('/');
  if (!rule.glob && pat.length !== segs.length) return false;
  for (let i = 0; i < pat.length; i++) {
    const p = pat[i] as string;
    const s = segs[i];
    if (s === undefined) return false;
    const last = i === pat.length - 1;
    if (p === '+') continue;
    if (last && rule.glob) return s.startsWith(p) || p === '';
    if (p !== s) return false;
  }
  return true;
}

/** Vault's priority: an exact rule over any glob; among globs, the longest literal prefix. */
function mostSpecific(rules: Rule[], path: string): Rule | undefined {
  const hits = rules.filter((r) => matches(r, path));
  const exact = hits.find((r) => !r.glob);
  if (exact) return exact;
  return hits.sort((a, b) => b.pattern.replace(/\+/g, '').length - a.pattern.replace(/\+/g, '').length)[0];
}

export function allowed(policies: Policy[], path: string, capability: Capability): boolean {
  const rule = mostSpecific(policies.flat(), path);
  if (!rule || rule.capabilities.has('deny')) return false;
  return rule.capabilities.has(capability);
}

/** Vault's built-in `default` policy, the part a token uses on itself. */
export const DEFAULT_POLICY = parsePolicy(`
path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
path "auth/token/revoke-self" { capabilities = ["update"] }
`);

const DOCS = fileURLToPath(new URL('../../../docs/vault-target.md', import.meta.url));

/**
 * The policies docs/vault-target.md gives, each an `hcl` block whose first line is `# vault-policy: <name>`: the
 * double enforces them verbatim, so the tests prove the documented policy is enough and nothing more is used.
 */
export function documentedPolicies(): Record<string, string> {
  const docs = readFileSync(DOCS, 'utf8');
  const out: Record<string, string> = {};
  for (const block of docs.matchAll(/```hcl\n# vault-policy: ([a-z0-9-]+)\n([\s\S]*?)```/g)) {
    out[block[1] as string] = block[2] as string;
  }
  if (!out.stint || !out['stint-creds'])
    throw new Error('docs/vault-target.md lacks the stint and stint-creds policies');
  return out;
}
