import type { AnyKind } from './kind.js';
import { postgresKind } from './postgres/index.js';

/**
 * The kinds this build of Stint ships. Adding one is a folder beside postgres/ and one entry here; a deployment
 * (or a test) may hand the server another list through its start options.
 */
export const BUILTIN_KINDS: readonly AnyKind[] = [postgresKind];
