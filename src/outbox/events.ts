/**
 * What the outbox announces, and how: every listener is called on its own, so one that throws
 * can neither stop the others nor reach back into the outbox (a step announced twice, a result
 * handler re-run, a delivery round cut short). Its exception becomes a `fault` event instead.
 */
import type { EventEmitter } from 'node:events';
import type { EngineInput, PbxEffect } from '../core/index.ts';
import type { OutboxEntry } from '../store/index.ts';
import type { LinkState } from './link.ts';

export interface EntryEvent {
  id: number;
  opId: string;
  kind: OutboxEntry['kind'];
  status: OutboxEntry['status'];
  code: string | undefined;
}

/** The entry a delivery fault is about, and when it is tried again. */
export interface FaultEntry {
  id: number;
  opId: string;
  kind: OutboxEntry['kind'];
  callKey: string;
  retryInMs: number;
}

export interface OutboxEvents {
  /** An input was stored and stepped (or recognised as a repeat). */
  accepted: [{ input: EngineInput; duplicate: boolean; entries: number }];
  /** Entries left for the client. */
  submitted: [{ count: number; probe: boolean }];
  /** An entry changed its status after an answer, or was dropped/failed by the planner. */
  entry: [EntryEvent];
  link: [{ state: LinkState; code: string | undefined }];
  /**
   * A stored step told the PBX something (a plan, a transfer, an origination): from `accept`, and
   * equally from the outbox's own steps (a timer, a Bitrix24 result such as `bitrix.responsible`),
   * whose effects no caller would otherwise see. Emitted once per stored step, never for a repeat.
   */
  pbx: [{ input: EngineInput; effects: PbxEffect[] }];
  /** Nothing open: every entry is done, dropped or failed. */
  idle: [];
  /**
   * Background work (a result, a timer, the pump) could not be stored, or a delivery failed with
   * an error the error table does not know (`where: 'delivery'`, with its entry); it is retried.
   * A listener that threw is reported here too (`where: 'listener:<event>'`).
   */
  fault: [{ where: string; error: unknown; entry?: FaultEntry }];
}

export type OutboxEmit = <K extends keyof OutboxEvents>(event: K, ...args: OutboxEvents[K]) => void;

type AnyListener = (...args: unknown[]) => unknown;

/**
 * Emits through `emitter` with each listener in its own try: the outbox's bookkeeping goes on
 * whatever a listener does. A throwing `fault` listener has nobody left to tell but the process
 * (a warning, not a crash).
 */
export function safeEmitter(emitter: EventEmitter<OutboxEvents>): OutboxEmit {
  const raw = emitter as unknown as EventEmitter;
  const emit: OutboxEmit = (event, ...args) => {
    // rawListeners: a `once` listener comes wrapped, and calling the wrapper removes it.
    for (const listener of raw.rawListeners(event) as AnyListener[]) {
      try {
        listener.apply(emitter, args);
      } catch (error) {
        if (event === 'fault') {
          process.emitWarning(`an outbox fault listener threw: ${String(error)}`, 'OutboxListenerWarning');
        } else {
          emit('fault', { where: `listener:${event}`, error });
        }
      }
    }
  };
  return emit;
}
