/**
 * Imported first by the benchmark's server children (rss-child, soak-child), so they size the heap as
 * `stint server` does (src/server/heap-profile.ts) before the app is loaded: ESM evaluates imports in order, and
 * a bare side-effect import is one the formatter never moves.
 */
import { applyHeapProfile } from '../src/server/heap-profile.js';

applyHeapProfile();
