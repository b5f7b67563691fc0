import { readFileSync } from 'node:fs';
import { StintError } from '../domain/errors.js';
import type { Logger } from '../logger.js';
import type { ConnectionRef, Resource } from '../policy/policy-types.js';
import { createPostgresProvider } from './postgres/postgres-provider.js';
import type { CredentialProvider, TargetOwner } from './provider.js';

type Env = Record<string, string | undefined>;

/**
 * The admin connection a resource names: an env var's value or a file's content. Messages name where it was
 * looked for, never what was found.
 */
export function resolveConnection(
  resource: Pick<Resource, 'id' | 'connection'>,
  env: Env = process.env,
): string {
  const ref: ConnectionRef = resource.connection;
  if ('env' in ref) {
    const value = env[ref.env]?.trim();
    if (!value) throw new StintError('PROVIDER_ERROR', `resource ${resource.id}: env ${ref.env} is not set`);
    return value;
  }
  let content: string;
  try {
    content = readFileSync(ref.file, 'utf8').trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new StintError(
      'PROVIDER_ERROR',
      `resource ${resource.id}: file ${ref.file} cannot be read (${code})`,
    );
  }
  if (!content) throw new StintError('PROVIDER_ERROR', `resource ${resource.id}: file ${ref.file} is empty`);
  return content;
}

/** The provider for one resource, by its kind. Adding a kind is one case here and one folder beside postgres/. */
export function createProvider(
  resource: Resource,
  env: Env,
  options: { logger?: Logger; owner: TargetOwner },
): CredentialProvider {
  const adminUrl = resolveConnection(resource, env);
  switch (resource.kind) {
    case 'postgres':
      return createPostgresProvider({
        resourceId: resource.id,
        adminUrl,
        owner: options.owner,
        ...(options.logger ? { logger: options.logger } : {}),
      });
    default: {
      const kind: never = resource.kind;
      throw new StintError('PROVIDER_ERROR', `resource ${resource.id}: unknown kind ${String(kind)}`);
    }
  }
}
