/**
 * Audit exports and proof bundles: writing an export directory from what the server serves, and verifying
 * exports and bundles offline with nothing but the log's public key. No database and no network: the CLI
 * fetches, these write, read and check.
 */
export * from './export-format.js';
export * from './export-verifier.js';
export * from './export-writer.js';
export * from './proof-bundle.js';
