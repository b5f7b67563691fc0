/** One target kind's figures in one run: Stint's path against the target's own primitive, timed together. */
export interface KindFigures {
  kind: string;
  samples: number;
  /** Stint's issue (through the provider, including the first login/use the user makes). */
  issueP50Ms: number;
  issueP99Ms: number;
  /** The target's own primitive for the same thing (e.g. CREATE USER + first login; ssh-keygen -s). */
  primitive: string;
  primitiveP50Ms: number;
  /** From revoke called to the live session ended (or, for expire-only kinds, to the credential refused). */
  revokeLagP50Ms: number;
  revokeLagP99Ms: number;
  notes: string[];
}
