/**
 * Which typed input may be kept, when a policy asks for input to be recorded at all. The proxy cannot see the
 * remote terminal's ECHO flag (it is set on the host, inside the pty), so it judges by what comes back: typed text
 * that the host echoes is on screen anyway, and is kept; typed text that never shows up in the output was typed
 * with echo off (a password prompt, `read -s`, sudo, ssh-keygen's passphrase), and is withheld. Also withheld,
 * echo or not: anything typed at a line that looks like a secret prompt (password, passphrase, PIN, token, OTP…).
 *
 * The rule, per stretch of input: printable runs in it must each appear in the output that came after it (escape
 * sequences stripped) within `settleMs`, or at the end of the line it belongs to; control keys (arrows, Ctrl-C,
 * Enter) carry nothing secret and are kept when the text around them is. When unsure it withholds: an editor that
 * redraws instead of echoing loses its keystrokes from the recording, never a password gains a place in it.
 */
export interface InputDecision {
  /** Seconds since the recording started, of the first key of the stretch. */
  at: number;
  /** What was typed, or null when withheld. */
  text: string | null;
}

const SECRET_PROMPT =
  /(pass(word|phrase|code)?|pin|otp|token|secret|verification code|one-time|2fa|mfa)\b[^\n]{0,40}[:?>]\s*$/i;
// CSI, OSC and two-byte escapes; what a shell prints around its echo.
// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences are control characters
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-_]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the split between printable runs and control keys
const CONTROL = /\x1b\[[0-?]*[ -/]*[@-~]|\x1bO.|[\x00-\x1f\x7f]/g;

const MAX_OUTPUT_KEPT = 8192;

export class InputFilter {
  private pending = '';
  private pendingAt = 0;
  private outputSince = '';
  private lastLine = '';
  private promptAtStart = '';
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly emit: (decision: InputDecision) => void,
    private readonly settleMs = 500,
  ) {}

  /** What the host printed: the evidence of echo, and the prompt the next input answers. */
  output(text: string): void {
    const plain = text.replace(ESCAPES, '');
    if (this.pending) {
      this.outputSince = (this.outputSince + plain).slice(-MAX_OUTPUT_KEPT);
      this.decideIfSettled(false);
    }
    const lines = (this.lastLine + plain).split(/\r\n|\n|\r/);
    this.lastLine = (lines[lines.length - 1] ?? '').slice(-200);
  }

  input(text: string, at: number): void {
    if (!this.pending) {
      this.pendingAt = at;
      this.outputSince = '';
      this.promptAtStart = this.lastLine;
      this.timer = setTimeout(() => this.decide(), this.settleMs);
    }
    this.pending += text;
  }

  /** Decides what is still pending (the recording is ending). */
  close(): void {
    if (this.pending) this.decide();
  }

  private decideIfSettled(force: boolean): void {
    if (force || this.echoed()) this.decide();
  }

  private echoed(): boolean {
    const runs = this.pending.split(CONTROL).filter((r) => r.length > 0);
    return runs.every((run) => this.outputSince.includes(run));
  }

  private decide(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const secretPrompt = SECRET_PROMPT.test(this.promptAtStart);
    const keep = !secretPrompt && this.echoed();
    this.emit({ at: this.pendingAt, text: keep ? this.pending : null });
    this.pending = '';
    this.outputSince = '';
  }
}
