import { InputFilter } from './input-filter.js';
import type { SegmentWriter } from './segments.js';

/** What the asciicast v2 header says (https://docs.asciinema.org/manual/asciicast/v2/). */
export interface AsciicastHeader {
  width: number;
  height: number;
  /** When the recording started (Unix seconds). */
  timestamp: number;
  command?: string;
  title?: string;
  env?: Record<string, string>;
}

/**
 * A terminal recording in asciicast v2, written as the session runs: the header line, then one `[time, code,
 * data]` line per event (`o` output, `i` input, `r` resize `COLSxROWS`, `m` marker), times in seconds since the
 * start. Output bytes are decoded as UTF-8 across chunk boundaries (a character split between two SSH packets is
 * not mangled); what is not UTF-8 becomes U+FFFD, as asciinema itself records it. Input is kept only when the
 * policy asks, and then only what the terminal echoed (input-filter.ts).
 */
export class AsciicastRecorder {
  private readonly started: number;
  private readonly out = new TextDecoder('utf-8');
  private readonly inp = new TextDecoder('utf-8');
  private readonly filter: InputFilter | null;
  private readonly now: () => number;

  constructor(
    private readonly sink: SegmentWriter,
    header: AsciicastHeader,
    opts: { captureInput: boolean; now: () => number },
  ) {
    this.now = opts.now;
    this.started = this.now();
    this.sink.write(`${JSON.stringify({ version: 2, ...header })}\n`);
    this.filter = opts.captureInput
      ? new InputFilter((d) => {
          if (d.text !== null) this.event(d.at, 'i', d.text);
          else this.event(d.at, 'm', 'input withheld: typed while the terminal did not echo it');
        })
      : null;
  }

  private elapsed(): number {
    return Math.max(0, (this.now() - this.started) / 1000);
  }

  private event(at: number, code: 'o' | 'i' | 'r' | 'm', data: string): void {
    this.sink.write(`${JSON.stringify([Number(at.toFixed(6)), code, data])}\n`);
  }

  output(chunk: Buffer): void {
    const text = this.out.decode(chunk, { stream: true });
    if (text.length === 0) return;
    this.event(this.elapsed(), 'o', text);
    this.filter?.output(text);
  }

  input(chunk: Buffer): void {
    if (!this.filter) return;
    const text = this.inp.decode(chunk, { stream: true });
    if (text.length > 0) this.filter.input(text, this.elapsed());
  }

  resize(cols: number, rows: number): void {
    this.event(this.elapsed(), 'r', `${cols}x${rows}`);
  }

  marker(label: string): void {
    this.event(this.elapsed(), 'm', label);
  }

  /** The last partial characters, pending input decided, then the segments sealed. */
  async close(): Promise<void> {
    const rest = this.out.decode();
    if (rest) this.event(this.elapsed(), 'o', rest);
    this.filter?.close();
    await this.sink.close();
  }
}

/** Parses an asciicast v2 text: the header and its events, or throws naming the first bad line. */
export function parseAsciicast(text: string): {
  header: AsciicastHeader & { version: 2 };
  events: [number, string, string][];
} {
  const lines = text.split('\n').filter((l) => l.length > 0);
  const header = JSON.parse(lines[0] ?? 'null') as AsciicastHeader & { version: 2 };
  if (header?.version !== 2 || typeof header.width !== 'number' || typeof header.height !== 'number') {
    throw new Error('line 1 is not an asciicast v2 header');
  }
  const events = lines.slice(1).map((line, i) => {
    const e = JSON.parse(line) as unknown;
    if (
      !Array.isArray(e) ||
      e.length !== 3 ||
      typeof e[0] !== 'number' ||
      typeof e[1] !== 'string' ||
      typeof e[2] !== 'string'
    ) {
      throw new Error(`line ${i + 2} is not an asciicast v2 event`);
    }
    return e as [number, string, string];
  });
  return { header, events };
}
