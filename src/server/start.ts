import pino from 'pino';
import type { ServerFlags } from '../app/config.js';
import { prepareDemo } from '../app/demo.js';
import { loadConfig } from '../app/load-config.js';
import { createPolicyHolder } from '../app/policy-holder.js';
import { createStint } from '../app/stint.js';
import { parseSkey } from '../audit/log/signed-note.js';
import { createSecretBox, parseKey } from '../crypto/secret-box.js';
import { hostOperator } from '../domain/host-operator.js';
import { resolveChannels } from '../notify/channels/resolve.js';
import { formatProblem } from '../policy/policy-error.js';
import { loadPolicyFile } from '../policy/policy-loader.js';
import type { AnyKind } from '../providers/kind.js';
import { BUILTIN_KINDS } from '../providers/kinds.js';
import { createKindRegistry, type ResolvedTarget } from '../providers/registry.js';
import { migrate, openDatabase } from '../store/database.js';
import { readStoreId } from '../store/store-identity.js';
import { appliedHeapFlags } from './heap-profile.js';
import { buildHttpApp, httpLogOptions } from './http-app.js';
import { loadPortal } from './portal.js';

export interface RunServerOptions extends ServerFlags {
  demo?: boolean;
  /** Where demo tokens and start-up lines go (stdout by default). */
  print?: (line: string) => void;
  /** The target kinds this server knows; the built-in ones by default. */
  kinds?: readonly AnyKind[];
}

function parseSigningKeys(text: string) {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => parseSkey(l));
}

/** Starts one Stint server: policy, store, jobs, HTTP. Resolves once it listens. */
export async function runServer(opts: RunServerOptions): Promise<{ url: string; close(): Promise<void> }> {
  const env = process.env;
  const print = opts.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  let flags: ServerFlags = opts;
  if (opts.demo) {
    const dataDir = opts.dataDir ?? env.STINT_DATA_DIR ?? 'data';
    const { policyPath } = prepareDemo(dataDir, env, opts.policyPath, opts.keyDir);
    flags = { ...opts, dataDir, policyPath: opts.policyPath ?? policyPath };
  }
  // Every setting of every capability is checked here, before anything starts: a bad value stops the boot with
  // CONFIG_INVALID naming its variable.
  const loaded = loadConfig(flags, env);
  const config = loaded.server;
  const logger = pino({ level: config.logLevel, ...httpLogOptions });

  const kinds = createKindRegistry(opts.kinds ?? BUILTIN_KINDS);
  // An invalid policy stops the server here: it never half-loads. Each resource is checked against its kind.
  // So does a resource whose connection cannot be read or parsed; a reload with one is refused. What is read
  // here is what the providers use: nothing is read from the environment again at first use.
  let targets = new Map<string, ResolvedTarget>();
  const loadPolicy = () => {
    const loaded = loadPolicyFile(config.policyPath, kinds.kinds);
    targets = kinds.resolveAll(loaded.resources.values(), env);
    // Notification channels' secrets too: a policy naming a variable that is not set is refused here.
    resolveChannels(loaded.notifications, env);
    return loaded;
  };
  const policy = createPolicyHolder(loadPolicy(), loadPolicy);
  for (const note of policy.current().notes) logger.warn({ note: formatProblem(note) }, 'policy note');
  const { identity, mfa, witnesses, breakglass } = loaded;
  const store = openDatabase(config.databaseUrl, {
    timeouts: { connectMs: config.storeConnectTimeoutMs, statementMs: config.storeStatementTimeoutMs },
  });
  await migrate(store);
  const storeId = await readStoreId(store.db);
  const stint = createStint({
    store,
    storeId,
    policy,
    directory: { config: loaded.directory, logger: logger.child({ component: 'directory' }) },
    identity,
    mfa,
    breakglass,
    metrics: loaded.metrics,
    providerKinds: kinds,
    recording: loaded.recording,
    // A resource that left the policy while a call on it was under way is read afresh, for that call only.
    providerFactory: (resource, owner, ctx) =>
      kinds.create(targets.get(resource.id) ?? kinds.resolve(resource, env), { logger, owner, ...ctx }),
    secrets: createSecretBox(parseKey(config.encryptionKey)),
    logger,
    sweepIntervalMs: config.sweepIntervalMs,
    audit: {
      signers: parseSigningKeys(config.auditSigningKeys),
      checkpointDir: config.auditCheckpointDir,
      retentionDays: config.auditRetentionDays,
      witnesses,
      acceptRollbackRisk: config.auditAcceptRollbackRisk === 'true',
    },
  });
  try {
    await stint.start();
  } catch (e) {
    // Refused (an audit store rolled back or forked): nothing is left running to keep the process alive.
    await stint.stop();
    await store.close();
    throw e;
  }
  const portal = loadPortal();
  const app = await buildHttpApp(stint, {
    logger: logger.child({ component: 'http' }),
    drainTimeoutMs: config.drainTimeoutMs,
    portal,
  });
  const address = await app.listen({ host: config.host, port: config.port });

  const onHup = () => {
    try {
      const next = policy.reload();
      logger.info({ version: next.version }, 'policy reloaded');
    } catch (err) {
      logger.error({ err }, 'policy reload refused; the previous policy stays in force');
    }
  };
  process.on('SIGHUP', onHup);

  if (opts.demo) {
    if (!(await stint.identity.tokens.any())) {
      print('Demo API tokens (shown once; export STINT_TOKEN=<token> to act as that user):');
      for (const user of policy.current().users.values()) {
        // Made on this host for whoever runs the demo: announced in the trail like `stint admin token create`'s.
        const { token } = await stint.identity.tokens.create(user.id, 'demo', new Date(), null, null, {
          hostMade: hostOperator(),
        });
        print(`  ${user.id.padEnd(12)} ${token}`);
      }
    }
  }
  const sshProxy = stint.recording.proxy();
  if (sshProxy) {
    const at = sshProxy.address();
    print(`SSH proxy listening on ${at.host}:${at.port} (host key ${stint.recording.hostKeyLine()})`);
  }
  const pgProxy = stint.recording.pgProxy();
  if (pgProxy) {
    const at = pgProxy.address();
    print(
      `PostgreSQL proxy listening on ${at.host}:${at.port} (TLS certificate SHA-256 ${stint.recording.pgCertificate()})`,
    );
  }
  const heap = appliedHeapFlags();
  print(
    `Stint listening on ${address} (policy ${policy.current().version}, store ${store.dialect}, heap ${heap.length > 0 ? 'lean' : 'as V8 sizes it'})`,
  );
  if (opts.demo) {
    // Where sign-in comes back is the portal's address (its cookies are that host's): localhost, not 127.0.0.1.
    const at = identity.oidc ? new URL('/', identity.oidc.redirectUri).href : `${address}/`;
    print(
      portal
        ? `Portal: open ${at} in a browser${identity.oidc ? '' : ' (sign-in needs STINT_OIDC_ISSUER: docs/portal.md)'}`
        : 'No portal is built here (npm run build): the start page at / says where the CLI and API are',
    );
  }

  return {
    url: address,
    async close() {
      process.off('SIGHUP', onHup);
      await app.close();
      await stint.stop();
      await store.close();
    },
  };
}
