import { z } from 'zod';
import { configError, describeRef, type Env, readConnectionRef } from '../connection-ref.js';
import type { TargetSpec } from '../target-spec.js';
import type { AwsOptions } from './aws-options.js';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** A resource's AWS configuration, read once when the policy is loaded. */
export interface AwsConfig {
  resourceId: string;
  options: AwsOptions;
  /** Null: the SDK's default credential chain (environment, shared config, SSO, web identity, instance role). */
  credentials: AwsCredentials | null;
  secrets: string[];
}

const credentialsSchema = z.strictObject({
  accessKeyId: z.string().regex(/^[A-Z0-9]{16,128}$/),
  secretAccessKey: z.string().min(16),
  sessionToken: z.string().min(1).optional(),
});

/**
 * The connection, when given, holds static credentials as JSON (`{"accessKeyId": …, "secretAccessKey": …}`);
 * absent, the SDK's default chain finds them. Messages name where the connection was read, never what it holds.
 */
export function parseAwsConfig(target: TargetSpec<AwsOptions>, env: Env): AwsConfig {
  if (target.connection === null) {
    return { resourceId: target.id, options: target.options, credentials: null, secrets: [] };
  }
  const text = readConnectionRef(target, env);
  const where = describeRef(target.connection);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw configError(target.id, `${where} is not JSON: it must hold {"accessKeyId", "secretAccessKey"}`);
  }
  const parsed = credentialsSchema.safeParse(json);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => String(i.path[0] ?? 'credentials')))];
    throw configError(target.id, `${where} holds no valid AWS credentials (check ${fields.join(', ')})`);
  }
  const credentials = parsed.data;
  return {
    resourceId: target.id,
    options: target.options,
    credentials,
    secrets: [
      text,
      credentials.secretAccessKey,
      ...(credentials.sessionToken ? [credentials.sessionToken] : []),
    ],
  };
}
