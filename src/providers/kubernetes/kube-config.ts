import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { configError, describeRef, type Env, readConnectionRef } from '../connection-ref.js';
import type { KindConfig } from '../kind.js';
import type { TargetSpec } from '../target-spec.js';
import { DNS_LABEL } from './grants.js';

// Messages are fixed strings: zod's defaults could quote the input.
const apiServerUrl = z
  .string()
  .refine((s) => URL.canParse(s) && new URL(s).protocol === 'https:' && !new URL(s).username, {
    error: 'must be an https:// URL without credentials',
  });

/** The resource's `options` block for `kind: kubernetes`. */
export const kubernetesOptions = z
  .strictObject({
    /** Where Stint creates each request's ServiceAccount; the namespace must exist. */
    namespace: z
      .string()
      .regex(DNS_LABEL, { error: 'must be a namespace name (a DNS label)' })
      .default('stint'),
    /** The API server URL put in the handed-over kubeconfig, when users reach it by another name than Stint. */
    server: apiServerUrl.optional(),
    /** The kubeconfig context Stint uses; its current-context when absent. */
    context: z.string().min(1, { error: 'must not be empty' }).max(253).optional(),
    /** Audiences of the minted tokens; the API server's own when absent. */
    audiences: z.array(z.string().min(1, { error: 'must not be empty' }).max(256)).optional(),
    /**
     * Grant roles that let their holder outlast the revoke (bind, escalate, impersonate, mint tokens, change RBAC,
     * create secrets): refused unless this says it is meant.
     */
    allowEscalatingGrants: z.boolean({ error: 'must be true or false' }).default(false),
  })
  .prefault({});

export type KubernetesOptions = z.infer<typeof kubernetesOptions>;

/** How the official client is to load Stint's credentials, once the provider first calls the cluster. */
export type KubeSource =
  | { kind: 'kubeconfig'; text: string; baseDir: string | null; context: string }
  | { kind: 'in-cluster'; server: string; caFile: string; tokenFile: string };

export interface KubernetesConfig extends KindConfig {
  resourceId: string;
  source: KubeSource;
  /** Where Stint's ServiceAccounts live. */
  namespace: string;
  /** What the handed-over kubeconfig points at, and the CA it trusts (base64 PEM). */
  publicServer: string;
  caData: string | null;
  tlsServerName: string | null;
  audiences: string[];
  allowEscalatingGrants: boolean;
}

/** Where a pod's service account credentials are mounted. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface Loaded {
  source: KubeSource;
  where: string;
  server: string;
  caData: string | null;
  tlsServerName: string | null;
  secrets: string[];
}

/**
 * Reads what a Kubernetes resource needs, once, at policy load: a kubeconfig (the connection's file or variable)
 * or, with no connection, the pod's own service account (in-cluster). Throws CONFIG_INVALID naming the resource
 * and where it looked, never a value. The kubeconfig is read here with a YAML parser, as client-go reads it; the
 * official client itself (a second to import) is loaded on the provider's first call, not at every boot.
 */
export function parseKubernetesConfig(
  target: TargetSpec<KubernetesOptions>,
  env: Env,
  serviceAccountDir = SERVICE_ACCOUNT_DIR,
): KubernetesConfig {
  const o = target.options;
  const loaded =
    target.connection === null ? inCluster(target.id, env, serviceAccountDir) : fromKubeconfig(target, env);
  return {
    resourceId: target.id,
    source: loaded.source,
    namespace: o.namespace,
    publicServer: o.server ?? loaded.server,
    caData: loaded.caData,
    tlsServerName: loaded.tlsServerName,
    audiences: o.audiences ?? [],
    allowEscalatingGrants: o.allowEscalatingGrants,
    secrets: loaded.secrets.filter((s) => s.length >= 4),
  };
}

type Named<K extends string> = { name?: unknown } & { [key in K]?: Record<string, unknown> };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function entry<K extends string>(list: unknown, name: string, field: K): Record<string, unknown> | undefined {
  if (!Array.isArray(list)) return undefined;
  const found = (list as Named<K>[]).find((e) => isRecord(e) && e.name === name);
  return found && isRecord(found[field]) ? found[field] : undefined;
}

function fromKubeconfig(target: TargetSpec<KubernetesOptions>, env: Env): Loaded {
  const id = target.id;
  const text = readConnectionRef(target, env);
  const ref = target.connection;
  const where = ref ? describeRef(ref) : 'connection';
  const baseDir = ref && 'file' in ref ? dirname(ref.file) : null;
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    // The parser's message may quote the file: it holds tokens and keys.
    doc = undefined;
  }
  if (!isRecord(doc))
    throw configError(id, `${where} is not a kubeconfig (YAML with clusters, users and contexts)`);
  const contextName = target.options.context ?? str(doc['current-context']);
  if (contextName === undefined)
    throw configError(id, `${where} has no current-context: set options.context`);
  const context = entry(doc.contexts, contextName, 'context');
  if (context === undefined) throw configError(id, `${where} has no context ${contextName}`);
  const cluster = entry(doc.clusters, String(context.cluster), 'cluster');
  const user = entry(doc.users, String(context.user), 'user');
  if (cluster === undefined || user === undefined) {
    throw configError(id, `${where} names no cluster and user for context ${contextName}`);
  }
  const server = str(cluster.server);
  if (server === undefined || !URL.canParse(server) || new URL(server).protocol !== 'https:') {
    throw configError(id, `${where}: the cluster's server must be an https:// URL`);
  }
  if (cluster['insecure-skip-tls-verify'] === true) {
    throw configError(id, `${where}: insecure-skip-tls-verify is refused: give the cluster's CA`);
  }
  let caData = str(cluster['certificate-authority-data']) ?? null;
  const caFile = str(cluster['certificate-authority']);
  if (caData === null && caFile !== undefined) {
    try {
      caData = readFileSync(baseDir ? resolve(baseDir, caFile) : caFile).toString('base64');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw configError(id, `${where}: the cluster's certificate-authority file cannot be read (${code})`);
    }
  }
  const secrets = [text];
  for (const field of ['token', 'password', 'client-key-data']) {
    const value = str(user[field]);
    if (value !== undefined) secrets.push(value);
  }
  const key = str(user['client-key-data']);
  if (key !== undefined) secrets.push(Buffer.from(key, 'base64').toString('utf8'));
  return {
    source: { kind: 'kubeconfig', text, baseDir, context: contextName },
    where,
    server,
    caData,
    tlsServerName: str(cluster['tls-server-name']) ?? null,
    secrets,
  };
}

/** The pod's own service account, as client-go's rest.InClusterConfig reads it, from the env Stint was given. */
function inCluster(resourceId: string, env: Env, dir: string): Loaded {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw configError(
      resourceId,
      'connection is not set and Stint is not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset): set connection to a kubeconfig',
    );
  }
  let token: string;
  let ca: Buffer;
  try {
    token = readFileSync(`${dir}/token`, 'utf8').trim();
    ca = readFileSync(`${dir}/ca.crt`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw configError(resourceId, `in-cluster service account files in ${dir} cannot be read (${code})`);
  }
  const server = `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  return {
    source: { kind: 'in-cluster', server, caFile: `${dir}/ca.crt`, tokenFile: `${dir}/token` },
    where: `in-cluster service account (${dir})`,
    server,
    caData: ca.toString('base64'),
    tlsServerName: null,
    secrets: [token],
  };
}
