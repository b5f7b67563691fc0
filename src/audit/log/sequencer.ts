import type { VerifyProblem } from './verify-problem.js';

/**
 * The ordering half: each record must carry the next index. A skipped index opens a gap; reading on (indices
 * only, no hashing) tells a deletion (never comes: REMOVED) from a reordering (comes later: REORDERED).
 */
export class Sequencer {
  #expected: number;
  #gap: { expected: number; saw: number } | null = null;
  #problem: VerifyProblem | null = null;

  constructor(start: number) {
    this.#expected = start;
  }

  /** 'hash': the record is the next leaf; 'scan': keep feeding indices to close a gap; 'stop'. */
  next(index: number): 'hash' | 'scan' | 'stop' {
    if (this.#problem) return 'stop';
    if (this.#gap) {
      if (index !== this.#gap.expected) return 'scan';
      this.#problem = {
        code: 'REORDERED',
        index: this.#gap.expected,
        message: `event ${this.#gap.expected} comes after event ${this.#gap.saw}: events are out of order`,
      };
      return 'stop';
    }
    if (!Number.isSafeInteger(index) || index < 0) {
      this.#problem = {
        code: 'MALFORMED',
        index: this.#expected,
        message: `the event after ${this.#expected - 1} has no valid index`,
      };
      return 'stop';
    }
    if (index === this.#expected) {
      this.#expected++;
      return 'hash';
    }
    if (index < this.#expected) {
      this.#problem = {
        code: 'INSERTED',
        index: this.#expected,
        message: `an extra event claims index ${index} where event ${this.#expected} belongs`,
      };
      return 'stop';
    }
    this.#gap = { expected: this.#expected, saw: index };
    return 'scan';
  }

  /** Records a problem with the record itself (its payload), at the index it claimed. */
  malformed(index: number, message: string): void {
    this.#problem ??= { code: 'MALFORMED', index, message };
  }

  /** At the end of the input: an open gap was a deletion. */
  problem(): VerifyProblem | null {
    if (!this.#problem && this.#gap) {
      const { expected, saw } = this.#gap;
      this.#problem = {
        code: 'REMOVED',
        index: expected,
        message:
          saw - expected === 1
            ? `event ${expected} is missing (the next event is ${saw})`
            : `events ${expected}..${saw - 1} are missing (the next event is ${saw})`,
      };
    }
    return this.#problem;
  }
}
