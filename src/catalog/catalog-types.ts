import type { Sensitivity } from '../policy/policy-types.js';

/** A resource as the catalog shows it: what can be asked for, never how Stint connects to it. */
export interface ResourceView {
  id: string;
  kind: string;
  description: string;
  sensitivity: Sensitivity;
  roles: { name: string; description: string }[];
}

export interface WhoAmIView {
  userId: string;
  email: string;
  name: string;
  teams: string[];
  manager: string | null;
  roles: string[];
}
