import { awsKind } from './aws/index.js';
import { gcpKind } from './gcp/index.js';
import type { AnyKind } from './kind.js';
import { kubernetesKind } from './kubernetes/index.js';
import { mariadbKind } from './mariadb/index.js';
import { postgresKind } from './postgres/index.js';
import { redisKind } from './redis/index.js';
import { sshKind } from './ssh/index.js';
import { vaultKind } from './vault/index.js';

/**
 * The kinds this build of Stint ships. Adding one is a folder beside postgres/ and one entry here; a deployment
 * (or a test) may hand the server another list through its start options.
 */
export const BUILTIN_KINDS: readonly AnyKind[] = [
  postgresKind,
  mariadbKind,
  redisKind,
  sshKind,
  vaultKind,
  kubernetesKind,
  awsKind,
  gcpKind,
];
