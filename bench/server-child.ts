/**
 * Entry of the benchmark's server children (rss-child, soak-child): sizes the heap as `stint server` does
 * (src/server/heap-profile.ts), then loads the child. The child is imported afterwards, not beside: ESM parses a
 * whole static import graph before running any of it, and parsing the app alone grows V8's young generation.
 */
import { applyHeapProfile } from '../src/server/heap-profile.js';

applyHeapProfile();
const child = process.argv[2];
if (child !== 'rss-child' && child !== 'soak-child') throw new Error(`server-child: unknown child ${child}`);
process.argv.splice(2, 1);
await import(`./${child}.js`);
