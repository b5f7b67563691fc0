/**
 * Commands that run in this process instead of calling the API. They are loaded on first use, so `stint whoami`
 * does not load the server, the database drivers or the policy parser. The shapes are the contracts the CLI
 * codes against; the import lines below are where TypeScript checks that the real modules still match.
 */

export interface ServerOptions {
  policyPath?: string;
  databaseUrl?: string;
  host?: string;
  port?: number;
  dataDir?: string;
  demo?: boolean;
  /** Where the server's start-up lines (listening address, demo tokens) go. */
  print?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

export interface CreateTokenOptions {
  userId: string;
  name: string;
  databaseUrl?: string;
  policyPath?: string;
  dataDir?: string;
  /** Scoped automation token; without scopes it carries the user's full power. */
  scopes?: readonly string[];
  expiresAt?: Date;
}

export interface RevokeTokenOptions {
  id: string;
  databaseUrl?: string;
  dataDir?: string;
}

export interface CreateSessionOptions {
  userId: string;
  databaseUrl?: string;
  policyPath?: string;
  dataDir?: string;
}

export interface LocalModules {
  runServer(opts: ServerOptions): Promise<RunningServer>;
  createSignInSession(opts: CreateSessionOptions): Promise<{ id: string; token: string; expiresAt: string }>;
  createApiToken(opts: CreateTokenOptions): Promise<{ id: string; token: string }>;
  revokeApiToken(opts: RevokeTokenOptions): Promise<{ id: string; userId: string; revokedAt: string | null }>;
}

export const defaultLocalModules: LocalModules = {
  async runServer(opts) {
    const { runServer } = await import('../server/start.js');
    return runServer(opts);
  },
  async createSignInSession(opts) {
    const { createSignInSession } = await import('../app/session-admin.js');
    return createSignInSession(opts);
  },
  async createApiToken(opts) {
    const { createApiToken } = await import('../auth/token-admin.js');
    return createApiToken(opts);
  },
  async revokeApiToken(opts) {
    const { revokeApiToken } = await import('../auth/token-admin.js');
    return revokeApiToken(opts);
  },
};
