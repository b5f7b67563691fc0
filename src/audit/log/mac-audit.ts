import { checkLeafMac, type LeafMacKey } from './leaf-mac.js';
import type { VerifyProblem } from './verify-problem.js';

/**
 * The verifier's MAC check, for verifiers that hold the signing key (the server, an operator with the skey).
 * From `from` on (where the server says MACs begin), and in any case from the first leaf that carries one,
 * every leaf needs a valid MAC: a server claiming a later start cannot hide leaves appended behind its back.
 */
export class MacAudit {
  readonly #keys: readonly LeafMacKey[];
  #from: number;
  #problem: VerifyProblem | null = null;
  /** Leaves whose MACs were all by keys this verifier does not hold. */
  unchecked = 0;
  checked = 0;

  constructor(keys: readonly LeafMacKey[], from: number) {
    this.#keys = keys;
    this.#from = from;
  }

  /**
   * Records the first forged leaf. Reading goes on: a root mismatch found later at a checkpoint starts earlier
   * in the log (at the last matching checkpoint), so it is the first problem.
   */
  check(index: number, leafHash: Uint8Array, mac: Uint8Array | null | undefined): void {
    if (this.#problem) return;
    const present = mac != null && mac.length > 0;
    if (present && index < this.#from) this.#from = index;
    if (index < this.#from) return;
    const result = checkLeafMac(this.#keys, index, leafHash, mac);
    if (result === 'ok') {
      this.checked++;
      return;
    }
    if (result === 'unknown-key') {
      this.unchecked++;
      return;
    }
    this.#problem = {
      code: 'FORGED',
      index,
      message:
        result === 'missing'
          ? `event ${index} has no leaf MAC: it was not appended by a Stint server`
          : `event ${index} has a leaf MAC that does not verify: it was not appended by a Stint server`,
    };
  }

  problem(): VerifyProblem | null {
    return this.#problem;
  }
}
