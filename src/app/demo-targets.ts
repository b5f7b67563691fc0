import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { StintError } from '../domain/errors.js';

/** The targets the quick start can add to the demo policy beside its PostgreSQL one (STINT_DEMO_TARGETS). */
export const DEMO_TARGETS = ['mariadb', 'redis'] as const;
export type DemoTarget = (typeof DEMO_TARGETS)[number];

interface DemoTargetInfo {
  /** The resource (and rule prefix) its policy fragment adds. */
  resource: string;
  /** Where the server reads stint_admin's URL from. */
  envVar: string;
  /** The file in the key folder scripts/demo-targets.sh keeps that URL in (0600). */
  urlFile: string;
}

export const DEMO_TARGET_INFO: Record<DemoTarget, DemoTargetInfo> = {
  mariadb: { resource: 'demo-mariadb', envVar: 'STINT_DEMO_MARIADB_URL', urlFile: 'demo-mariadb.url' },
  redis: { resource: 'demo-redis', envVar: 'STINT_DEMO_REDIS_URL', urlFile: 'demo-redis.url' },
};

const isDemoTarget = (name: string): name is DemoTarget => (DEMO_TARGETS as readonly string[]).includes(name);

/** `mariadb,redis` (commas or spaces) into the targets it names; an unknown name is refused. */
export function parseDemoTargets(value: string | undefined): DemoTarget[] {
  const names = (value ?? '').split(/[\s,]+/).filter((n) => n.length > 0);
  const unknown = names.filter((n) => !isDemoTarget(n));
  if (unknown.length > 0)
    throw new StintError(
      'CONFIG_INVALID',
      `invalid configuration: STINT_DEMO_TARGETS: unknown demo target ${unknown.map((n) => `"${n}"`).join(', ')} ` +
        `(known: ${DEMO_TARGETS.join(', ')})`,
    );
  return DEMO_TARGETS.filter((t) => names.includes(t));
}

/** examples/demo-targets/<target>.yaml: the target's resource and rules, a policy fragment a person can copy. */
export function demoTargetFragmentPath(target: DemoTarget): string {
  return fileURLToPath(new URL(`../../examples/demo-targets/${target}.yaml`, import.meta.url));
}

function fragmentSections(target: DemoTarget): { resources: string; rules: string } {
  const text = readFileSync(demoTargetFragmentPath(target), 'utf8');
  const resourcesAt = text.indexOf('\nresources:\n');
  const rulesAt = text.indexOf('\nrules:\n');
  if (resourcesAt < 0 || rulesAt < resourcesAt)
    throw new Error(`examples/demo-targets/${target}.yaml has no resources: section followed by rules:`);
  return {
    resources: text.slice(resourcesAt + '\nresources:\n'.length, rulesAt).trimEnd(),
    rules: text.slice(rulesAt + '\nrules:\n'.length).trimEnd(),
  };
}

/**
 * The demo policy with each target's resource appended to its resources and its rules to its rules. Done on the
 * text, so the demo policy keeps its comments: it is the file a person reads to learn the format.
 */
export function withDemoTargets(policyText: string, targets: readonly DemoTarget[]): string {
  let text = policyText;
  for (const target of targets) {
    const { resources, rules } = fragmentSections(target);
    const rulesAt = text.indexOf('\nrules:\n');
    if (rulesAt < 0) throw new Error('the demo policy has no top-level rules: section');
    const added = `  # ${DEMO_TARGET_INFO[target].resource}: added for STINT_DEMO_TARGETS (examples/demo-targets/${target}.yaml)\n`;
    text =
      `${text.slice(0, rulesAt).trimEnd()}\n\n${added}${resources}\n${text.slice(rulesAt)}`.trimEnd() +
      `\n\n${added}${rules}\n`;
  }
  return text;
}

/**
 * The targets whose resource a policy lacks. A policy that does not parse lacks nothing here: loading it says
 * what is wrong, with the line.
 */
export function demoTargetsMissing(policyText: string, targets: readonly DemoTarget[]): DemoTarget[] {
  let ids: unknown[];
  try {
    const resources = (parse(policyText) as { resources?: unknown } | null)?.resources;
    if (!Array.isArray(resources)) return [];
    ids = resources.map((r) => (r && typeof r === 'object' ? (r as { id?: unknown }).id : undefined));
  } catch {
    return [];
  }
  return targets.filter((t) => !ids.includes(DEMO_TARGET_INFO[t].resource));
}

/**
 * The admin URLs the demo targets' resources read, from the files scripts/demo-targets.sh keeps in the key folder,
 * for each variable not already set. A target asked for with neither is refused: the server would otherwise start
 * with a resource whose connection cannot be read.
 */
export function demoTargetUrls(
  dataDir: string,
  keyDir: string,
  env: NodeJS.ProcessEnv,
  targets: readonly DemoTarget[],
): Record<string, string> {
  const urls: Record<string, string> = {};
  for (const target of DEMO_TARGETS) {
    const { envVar, urlFile } = DEMO_TARGET_INFO[target];
    if (env[envVar]) continue;
    const file = join(keyDir, urlFile);
    const url = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
    if (url) urls[envVar] = url;
    else if (targets.includes(target))
      throw new StintError(
        'CONFIG_INVALID',
        `invalid configuration: STINT_DEMO_TARGETS names ${target}, but its target is not prepared: ${file} ` +
          `does not exist and ${envVar} is not set. Run scripts/quickstart.sh --with ${target} (or ` +
          `scripts/demo-targets.sh --data-dir ${dataDir} --key-dir ${keyDir} ${target}), or set ${envVar} to stint_admin's URL`,
      );
  }
  return urls;
}
