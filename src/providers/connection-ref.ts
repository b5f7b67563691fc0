import { readFileSync } from 'node:fs';
import { StintError } from '../domain/errors.js';
import type { ConnectionRef, TargetSpec } from './target-spec.js';

export type Env = Record<string, string | undefined>;

/** A resource's configuration is unusable: stops the boot (or refuses the reload), naming where it looked. */
export function configError(resourceId: string, problem: string): StintError {
  return new StintError('CONFIG_INVALID', `resource ${resourceId}: ${problem}`, { resource: resourceId });
}

/**
 * The secret a resource's `connection` names: an env var's value or a file's content, trimmed. What the value
 * means (a URL, a key, a kubeconfig) is the kind's business. Messages name where it was looked for, never what
 * was found.
 */
export function readConnectionRef(resource: Pick<TargetSpec, 'id' | 'connection'>, env: Env): string {
  const ref: ConnectionRef | null = resource.connection;
  if (ref === null) throw configError(resource.id, 'connection is not set');
  if ('env' in ref) {
    const value = env[ref.env]?.trim();
    if (!value) throw configError(resource.id, `env ${ref.env} is not set`);
    return value;
  }
  let content: string;
  try {
    content = readFileSync(ref.file, 'utf8').trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw configError(resource.id, `file ${ref.file} cannot be read (${code})`);
  }
  if (!content) throw configError(resource.id, `file ${ref.file} is empty`);
  return content;
}

/** Where a resource's connection is read from, for messages: `env STINT_DB_URL` or `file /run/secrets/db`. */
export function describeRef(ref: ConnectionRef): string {
  return 'env' in ref ? `env ${ref.env}` : `file ${ref.file}`;
}
