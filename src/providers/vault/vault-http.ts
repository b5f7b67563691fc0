import type { VaultConfig } from './vault-config.js';
import { VaultResponseError } from './vault-errors.js';

/**
 * Vault's HTTP API, called with fetch: HashiCorp ships no Node SDK (the community `node-vault` wraps the same
 * API), and Stint needs a dozen paths, each written here as Vault's API documentation gives it.
 */
export interface VaultCall {
  /** `LIST` is sent as `GET …?list=true`, which Vault treats the same and every HTTP stack carries. */
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'LIST';
  /** The API path after `/v1/`, e.g. `sys/leases/lookup`. */
  path: string;
  query?: Record<string, string>;
  body?: Record<string, unknown>;
  /** A token other than Stint's own (an issuing token); Stint's is used when absent. */
  token?: string;
  /** Login calls carry no token at all. */
  anonymous?: boolean;
  /** A node-wide path (sys/health): sent without X-Vault-Namespace, as it reports on the node, not a namespace. */
  root?: boolean;
}

export interface VaultHttp {
  /** The answer's JSON, or null for an empty answer (204). Throws VaultResponseError for an error status. */
  call<T = Record<string, unknown>>(call: VaultCall, signal: AbortSignal): Promise<T | null>;
  /** Tokens this client obtained at run time (AppRole logins): removed from every message like configured ones. */
  runtimeSecrets(): readonly string[];
}

/** A login that answers slower than this is abandoned; callers' own deadlines still apply. */
const LOGIN_TIMEOUT_MS = 10_000;
/** Log in again once this share of the login token's TTL has passed. */
const RELOGIN_AT = 0.75;
const KEPT_LOGIN_TOKENS = 4;

const encodePath = (path: string) => path.split('/').map(encodeURIComponent).join('/');

interface LoginAnswer {
  auth?: { client_token?: unknown; lease_duration?: unknown };
}

export function createVaultHttp(config: VaultConfig): VaultHttp {
  let login: { token: string; renewAt: number } | undefined;
  let pendingLogin: Promise<string> | undefined;
  const loginTokens: string[] = [];

  async function send<T>(call: VaultCall, token: string | null, signal: AbortSignal): Promise<T | null> {
    const list = call.method === 'LIST';
    const query = new URLSearchParams(call.query);
    if (list) query.set('list', 'true');
    const qs = query.size > 0 ? `?${query.toString()}` : '';
    const url = `${config.apiBase}/${encodePath(call.path)}${qs}`;
    const headers: Record<string, string> = { 'X-Vault-Request': 'true' };
    if (token !== null) headers['X-Vault-Token'] = token;
    if (config.namespace !== null && !call.root) headers['X-Vault-Namespace'] = config.namespace;
    if (call.body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(url, {
      method: list ? 'GET' : call.method,
      headers,
      ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
      signal,
      // A redirect (a standby node pointing at the active one) would carry the token to wherever it points.
      redirect: 'manual',
    });
    const text = await res.text();
    if (res.status >= 300 && res.status < 400) {
      throw new VaultResponseError(
        res.status,
        ['Vault redirected the call: set address to the active node or to a load balancer in front of Vault'],
        call.path,
      );
    }
    if (res.ok) {
      if (text.trim() === '') return null;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new VaultResponseError(res.status, ['the answer is not JSON'], call.path);
      }
    }
    let errors: string[] = [];
    try {
      const parsed = JSON.parse(text) as { errors?: unknown };
      if (Array.isArray(parsed.errors)) errors = parsed.errors.filter((e) => typeof e === 'string');
    } catch {
      // Not Vault's JSON (a proxy's page): the status says enough.
    }
    throw new VaultResponseError(res.status, errors, call.path);
  }

  async function logIn(): Promise<string> {
    if (config.auth.method !== 'approle') throw new Error('not an AppRole resource');
    const { roleId, secretId, mount } = config.auth;
    const answer = await send<LoginAnswer>(
      { method: 'POST', path: `auth/${mount}/login`, body: { role_id: roleId, secret_id: secretId } },
      null,
      AbortSignal.timeout(LOGIN_TIMEOUT_MS),
    );
    const token = answer?.auth?.client_token;
    const ttl = answer?.auth?.lease_duration;
    if (typeof token !== 'string' || token === '') {
      throw new VaultResponseError(
        200,
        ['the AppRole login answered no client_token'],
        `auth/${mount}/login`,
      );
    }
    loginTokens.push(token);
    if (loginTokens.length > KEPT_LOGIN_TOKENS) loginTokens.shift();
    const seconds = typeof ttl === 'number' && ttl > 0 ? ttl : Number.POSITIVE_INFINITY;
    login = { token, renewAt: Date.now() + seconds * 1000 * RELOGIN_AT };
    return token;
  }

  async function ownToken(): Promise<string> {
    if (config.auth.method === 'token') return config.auth.token;
    if (login && Date.now() < login.renewAt) return login.token;
    pendingLogin ??= logIn().finally(() => {
      pendingLogin = undefined;
    });
    return pendingLogin;
  }

  return {
    async call<T>(call: VaultCall, signal: AbortSignal): Promise<T | null> {
      if (call.anonymous) return send<T>(call, null, signal);
      if (call.token !== undefined) return send<T>(call, call.token, signal);
      const token = await ownToken();
      try {
        return await send<T>(call, token, signal);
      } catch (err) {
        // An AppRole token revoked or expired early: one fresh login, then the answer stands.
        const stale =
          config.auth.method === 'approle' &&
          err instanceof VaultResponseError &&
          err.status === 403 &&
          login?.token === token;
        if (!stale) throw err;
        login = undefined;
        return send<T>(call, await ownToken(), signal);
      }
    },
    runtimeSecrets: () => loginTokens,
  };
}
