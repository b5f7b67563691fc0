import type { PolicyFile } from './policy-schema.js';
import type { PolicyKind, PolicyProblem } from './policy-types.js';
import { type Path, parseAt, type YamlSource } from './yaml-source.js';

/**
 * Each resource against its kind: the kind must be known, `connection` present unless the kind has a default
 * credential chain, `options` and every role's `grants` valid by the kind's own schemas. Replaces both with
 * what those schemas parsed, so what is loaded is what was checked.
 */
export function checkKinds(
  file: PolicyFile,
  source: YamlSource,
  kinds: readonly PolicyKind[],
): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  const byName = new Map(kinds.map((k) => [k.kind, k]));
  file.resources.forEach((r, i) => {
    const at = (...path: Path): Path => ['resources', i, ...path];
    const kind = byName.get(r.kind);
    if (kind === undefined) {
      const known = kinds.map((k) => k.kind).join(', ');
      problems.push(source.problem(at('kind'), `unknown kind "${r.kind}"; this server knows: ${known}`));
      return;
    }
    if (r.connection === undefined && kind.connection === 'required') {
      problems.push(
        source.problem(at('id'), `kind ${r.kind} needs a connection: { env: VARIABLE } or { file: /path }`),
      );
    }
    const options = parseAt(
      source,
      kind.options,
      r.options ?? {},
      r.options === undefined ? at() : at('options'),
    );
    if (options.ok) r.options = options.data as Record<string, unknown>;
    else problems.push(...options.problems);
    for (const [name, role] of Object.entries(r.roles)) {
      const grants = parseAt(source, kind.grants, role.grants, at('roles', name, 'grants'));
      if (grants.ok) role.grants = grants.data;
      else problems.push(...grants.problems);
    }
  });
  return problems;
}
