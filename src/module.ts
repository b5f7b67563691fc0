import type { FastifyPluginAsync } from 'fastify';
import type { Scope } from './domain/scopes.js';

/**
 * The shape every capability offers the house. Each folder exports `createXModule(deps)` returning its services
 * plus a `StintModule`: what the app runs for it (jobs, sweeps), what the HTTP server mounts (routes with their
 * access rows), what /readyz asks it, and what it counts. `app/stint.ts` lists the modules; start, stop, the one
 * sweep loop, readiness, the route-access table and the HTTP mounts are all derived from that list, so a new
 * capability is a folder and one line there.
 */
export interface StintModule {
  /** Short and unique (`grants`, `audit`): names it in logs and in the sweep loop. */
  name: string;
  /** Started in module order, stopped in reverse. */
  jobs?: readonly Job[];
  /** Due work the one sweep loop runs (app/sweep-loop.ts), behind the store-health gate. */
  sweeps?: readonly Sweep[];
  routes?: readonly ModuleRoutes[];
  ready?: readonly ReadinessCheck[];
  degraded?: readonly DegradedCheck[];
  metrics?: readonly MetricSource[];
}

/** Background work with a lifetime: a listener, a timer that is not a sweep, a pool to close. */
export interface Job {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Work that is due in the store (expiries, retries, time-outs, forgetting old rows). The loop runs each sweep on
 * its own cadence, never two runs of one sweep at once, and skips every sweep while the store is down: due work
 * stays due, so nothing is lost by waiting. A sweep's failure is logged by the loop and retried next turn.
 */
export interface Sweep {
  /** `<module>.<what>`, e.g. `grants.due`: in the loop's log lines. */
  name: string;
  /** How often; the loop's own tick (STINT_SWEEP_MS, default 500 ms) when absent. */
  everyMs?: number;
  /** Must stop early, leaving the rest due, when `signal` aborts (shutdown). */
  run(signal: AbortSignal): Promise<unknown>;
}

/**
 * What a route asks of its caller, before any role or ownership rule (auth/authorize.ts) is applied:
 * - 'public': no credential (health, sign-in, the audit log's public checkpoints and proofs);
 * - 'scim-token': no user credential; the SCIM plugin checks the provisioning token (STINT_SCIM_TOKEN) itself;
 * - 'any': any valid user credential, whatever its scopes;
 * - a scope: a scoped API token must carry it (sessions and full-power tokens pass);
 * - null: people and full-power tokens only: no scoped token (sessions, tokens, second factors).
 */
export type RouteAccess = 'public' | 'scim-token' | 'any' | Scope | null;

/**
 * A Fastify plugin and the access row of every route it adds, keyed `METHOD /url` as Fastify registers them
 * (`* /url` for any method). The rows of every module make the one route-access table: a route added without
 * its row does not boot (server/authenticate.ts), and the authorization test walks the table.
 */
export interface ModuleRoutes {
  plugin: FastifyPluginAsync;
  access: Readonly<Record<string, RouteAccess>>;
}

/** Throws (or rejects) while the capability cannot serve: a "not ready" for /readyz. */
export type ReadinessCheck = () => Promise<void> | void;

/**
 * Something a person must act on that does not stop this server serving (a target Stint cannot clean up): named
 * in /readyz, which still answers 200, so a broken target does not take every server out of the load balancer.
 */
export interface Degradation {
  check: string;
  message: string;
  /** How many things are affected, and the first few request ids (never a secret or a target's name). */
  count: number;
  requests: string[];
}

/** Answers what is degraded now, or null. */
export type DegradedCheck = () => Promise<Degradation | null>;

/** What /readyz reports when every readiness check passed. */
export type ReadinessReport = { status: 'ready' } | { status: 'degraded'; degraded: Degradation[] };

/**
 * One metric family a module counts, in Prometheus's terms but without its library: the operations module
 * (src/metrics/) exports every module's families; nothing here depends on how.
 */
export type MetricSource = CountedMetricSource | HistogramMetricSource;

export interface CountedMetricSource {
  /** `stint_<module>_<what>[_total]`. */
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  collect(): MetricSample[] | Promise<MetricSample[]>;
}

export interface MetricSample {
  labels?: Readonly<Record<string, string>>;
  value: number;
}

/**
 * A distribution (durations): the count of observations at or under each bound, their sum and their number. A
 * module may count these itself (in memory) or have the store count them (approval times, revocation lag).
 */
export interface HistogramMetricSource {
  /** `stint_<module>_<what>_seconds`. */
  name: string;
  help: string;
  type: 'histogram';
  /** Upper bounds, ascending, in the unit of the name (+Inf is implied). */
  buckets: readonly number[];
  collect(): HistogramSample[] | Promise<HistogramSample[]>;
}

export interface HistogramSample {
  labels?: Readonly<Record<string, string>>;
  /** Observations ≤ each bound, cumulative, one per bucket. */
  counts: readonly number[];
  sum: number;
  count: number;
}
