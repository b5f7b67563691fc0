/**
 * The audit trail's pure cryptographic core: RFC 9162 Merkle tree and proofs, RFC 8785 canonical JSON, C2SP
 * signed notes and checkpoints, and the offline verifier. No database, clock or network: stores and the CLI
 * wire these in.
 */
export * from './base64.js';
export * from './checkpoint.js';
export * from './checkpoint-targets.js';
export type { ChunkResult, ChunkTask } from './chunk.js';
export * from './errors.js';
export * from './frontier.js';
export * from './hash-pool.js';
export * from './jcs.js';
export * from './leaf-checks.js';
export * from './memory-tree-store.js';
export * from './merkle.js';
export * from './parallel-verifier.js';
export * from './proof-verification.js';
export * from './sequencer.js';
export * from './signed-note.js';
export * from './tree-check.js';
export * from './tree-store.js';
export * from './verifier.js';
export * from './verify-problem.js';
export * from './verify-types.js';
