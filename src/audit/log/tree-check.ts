import type { CheckpointTarget } from './checkpoint-targets.js';
import { isAuditLogError } from './errors.js';
import { Frontier } from './frontier.js';
import { bytesEqual } from './merkle.js';
import type { VerifyProblem } from './verify-problem.js';
import type { VerifyOptions } from './verify-types.js';

/**
 * The tree half of verification: the frontier and the checkpoints it must hit. A root mismatch does not stop
 * it at once while later checkpoints remain: if a later one matches, the earlier signed checkpoint described a
 * history the log no longer has, which is a fork (rollback and regrowth), not a mere corruption.
 */
export class TreeCheck {
  readonly frontier: Frontier;
  readonly #targets: readonly CheckpointTarget[];
  #next = 0;
  #matched: CheckpointTarget | null = null;
  #matchedCount = 0;
  #mismatch: { target: CheckpointTarget; from: number } | null = null;
  #problem: VerifyProblem | null = null;
  /** Where this input begins: an export that starts part-way has no leaves to blame before it. */
  readonly #startSize: number;

  constructor(targets: readonly CheckpointTarget[], start?: VerifyOptions['start']) {
    this.frontier = start ? Frontier.restore(start.size, start.hashes) : new Frontier();
    this.#startSize = this.frontier.size;
    this.#targets = targets;
    // Checkpoints below the starting point cannot be recomputed from this input.
    while (
      this.#next < targets.length &&
      (targets[this.#next] as CheckpointTarget).size < this.frontier.size
    ) {
      this.#next++;
    }
    this.check();
  }

  /** A final answer is known: stop hashing. */
  get decided(): boolean {
    return this.#problem !== null || (this.#mismatch !== null && this.#next >= this.#targets.length);
  }

  /** The size of the next checkpoint to hit, so parallel chunks can end exactly there. */
  get nextBoundary(): number | undefined {
    return this.#targets[this.#next]?.size;
  }

  get largestTarget(): number {
    return this.#targets.at(-1)?.size ?? 0;
  }

  appendLeaf(leaf: Uint8Array): void {
    this.frontier.append(leaf);
    this.check();
  }

  /** Records a CHANGED leaf: the first problem, unless an earlier root mismatch already is. */
  changed(index: number): void {
    if (this.#mismatch || this.#problem) {
      this.#settle();
      return;
    }
    this.#problem = {
      code: 'CHANGED',
      index,
      message: `event ${index} does not hash to the leaf hash recorded for it`,
    };
  }

  /** Compares the root with every checkpoint of exactly the current size. */
  check(): void {
    while (!this.decided && this.#targets[this.#next]?.size === this.frontier.size) {
      const target = this.#targets[this.#next++] as CheckpointTarget;
      const matches = bytesEqual(this.frontier.root(), target.rootHash);
      if (matches && this.#mismatch) {
        const earlier = this.#mismatch.target.size;
        this.#problem = {
          code: 'FORK',
          index: this.#mismatch.from,
          checkpointSize: earlier,
          message:
            `the events match the signed checkpoint of size ${target.size} but not the signed checkpoint of size ` +
            `${earlier}: the log was rewritten after ${earlier} was signed (rolled back and regrown)`,
        };
      } else if (matches) {
        this.#matched = target;
        this.#matchedCount++;
      } else {
        this.#mismatch ??= { target, from: this.#matched?.size ?? this.#startSize };
      }
    }
  }

  /** Turns a pending root mismatch into the final problem (called when something later went wrong too). */
  #settle(): void {
    if (this.#problem || !this.#mismatch) return;
    const { target, from } = this.#mismatch;
    this.#problem = {
      code: 'ROOT_MISMATCH',
      index: from,
      checkpointSize: target.size,
      message: `events ${from}..${target.size - 1} do not hash to the root of the signed checkpoint of size ${target.size}`,
    };
  }

  /** The problem found by the tree side, if any (settling a pending mismatch). */
  problem(): VerifyProblem | null {
    this.#settle();
    return this.#problem;
  }

  get matched(): CheckpointTarget | null {
    return this.#matched;
  }

  get matchedCount(): number {
    return this.#matchedCount;
  }
}

/**
 * The tree checker for these checkpoints and starting point. A starting frontier of the wrong shape comes from
 * the input (an export's files), so it is reported as MALFORMED rather than thrown.
 */
export function startTree(
  targets: readonly CheckpointTarget[],
  start: VerifyOptions['start'],
): TreeCheck | VerifyProblem {
  try {
    return new TreeCheck(targets, start);
  } catch (e) {
    if (!isAuditLogError(e) || e.code !== 'INVALID_ARGUMENT') throw e;
    return { code: 'MALFORMED', message: `the starting frontier is unusable: ${e.message}` };
  }
}
