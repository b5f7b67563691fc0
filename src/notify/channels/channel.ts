import type { ChannelKind } from '../../policy/notifications-types.js';
import type { NotificationMessage } from '../message.js';

/** A channel ready to send: its secrets read, its transport made. */
export interface Channel {
  name: string;
  kind: ChannelKind;
  timeoutMs: number;
  concurrency: number;
  /** The values read from the environment, removed from every error message recorded. */
  secrets: readonly string[];
  /** Resolves once the receiver accepted the message; rejects with a DeliveryFailure otherwise. */
  send(message: NotificationMessage, signal: AbortSignal): Promise<void>;
}

export type ChannelSet = ReadonlyMap<string, Channel>;

/** Why an attempt failed, in Stint's own words: a status code, a time-out, a refused connection. */
export class DeliveryFailure extends Error {
  override readonly name = 'DeliveryFailure';
}
