import { z } from 'zod';
import { configError, describeRef, type Env, readConnectionRef } from '../connection-ref.js';
import type { TargetSpec } from '../target-spec.js';
import type { GcpOptions } from './gcp-options.js';

/** What of a service account key file Stint uses. */
export interface ServiceAccountKey {
  clientEmail: string;
  privateKey: string;
  privateKeyId: string;
}

export interface GcpConfig {
  resourceId: string;
  options: GcpOptions;
  /** Null: Application Default Credentials (a workload identity, an attached service account, gcloud's). */
  key: ServiceAccountKey | null;
  secrets: string[];
}

const keySchema = z.object({
  type: z.literal('service_account'),
  client_email: z.string().regex(/^[^\s@]+@[^\s@]+$/),
  private_key: z.string().includes('PRIVATE KEY'),
  private_key_id: z.string().min(1),
});

/**
 * The connection, when given, holds a service account key file's JSON; absent, Application Default Credentials
 * are used. Messages name where the key was read, never what it holds.
 */
export function parseGcpConfig(target: TargetSpec<GcpOptions>, env: Env): GcpConfig {
  if (target.connection === null)
    return { resourceId: target.id, options: target.options, key: null, secrets: [] };
  const text = readConnectionRef(target, env);
  const where = describeRef(target.connection);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw configError(target.id, `${where} is not JSON: it must hold a service account key file`);
  }
  const parsed = keySchema.safeParse(json);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => String(i.path[0] ?? 'key')))];
    throw configError(target.id, `${where} is not a service account key (check ${fields.join(', ')})`);
  }
  const k = parsed.data;
  return {
    resourceId: target.id,
    options: target.options,
    key: { clientEmail: k.client_email, privateKey: k.private_key, privateKeyId: k.private_key_id },
    // The key's body too, as a driver might print it without its PEM lines.
    secrets: [
      text,
      k.private_key,
      ...k.private_key.split('\n').filter((line) => line.length >= 32 && !line.startsWith('-----')),
    ],
  };
}
