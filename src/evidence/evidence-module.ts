import type { StintModule } from '../module.js';
import { EVIDENCE_ROUTE_ACCESS, type EvidenceRouteDeps, evidenceRoutes } from './evidence-routes.js';

/**
 * The server's share of the auditor's evidence pack: the pack is assembled by `stint evidence export` from the
 * audit trail's own routes (leaves, checkpoints, proofs) and two of its own: the period's seq range (with what
 * an export of it must include) and the policy text.
 */
export function createEvidenceModule(deps: EvidenceRouteDeps) {
  const module: StintModule = {
    name: 'evidence',
    routes: [{ plugin: evidenceRoutes(deps), access: EVIDENCE_ROUTE_ACCESS }],
  };
  return { module };
}
