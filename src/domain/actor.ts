/** Who is acting. Roles beyond requester come from the directory; approver is decided per request. */
export interface Actor {
  userId: string;
  security: boolean;
  admin: boolean;
  auditor: boolean;
  /**
   * Where the call came from, for the audit trail: every event the actor causes carries it, so a session made
   * on the server host (`via: 'host-session'`, with its id) marks each of them.
   */
  source?: { ip: string | null; userAgent: string | null; via?: 'host-session'; hostSession?: string };
  /** The session was made on the server host; `limited`: it may only enrol a first second factor. */
  hostSession?: { id: string; limited: boolean };
  /** How the caller authenticated; scopes null means the credential carries the user's full power. */
  credential?: { kind: 'api-token' | 'session' | 'cookie'; id: string; scopes: readonly string[] | null };
  /** When the identity provider last verified a second factor for this session, if it said so. */
  mfaAt?: Date | null;
  /** When the identity provider last authenticated the person of this session (`auth_time`), if it said so. */
  authAt?: Date | null;
}
