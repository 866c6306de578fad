import type { BitrixError } from './errors.ts';
import { Ref, type WireParams } from './encode.ts';

/**
 * What the client needs to know about each REST method to queue, batch and repeat it safely. The
 * reasoning for every repeat-safety decision is written down here, where it is applied.
 */

/** Priority lanes: what a person is waiting to see, then what must be logged, then reads. */
export type Lane = 'card' | 'log' | 'read';
export const lanes: readonly Lane[] = ['card', 'log', 'read'];
export const laneRank: Readonly<Record<Lane, number>> = { card: 0, log: 1, read: 2 };

/** One REST call as the queue carries it. */
export interface Command {
  method: string;
  params: WireParams;
  lane: Lane;
  /** False for file uploads: the portal refuses them inside `batch`. */
  batchable: boolean;
  /** May be sent again after a failure that may already have reached the portal. */
  repeatSafe: boolean;
  /**
   * May travel in the same batch as an operation whose result it references (`$result[...]`).
   * Only for methods that are harmless if that operation fails and the reference comes out empty.
   */
  ridesWithReference: boolean;
  /**
   * Reads the error of a repeat as success when an earlier try may have done the work; gets the
   * error, returns the value to resolve with, or undefined to keep the error.
   */
  onRepeatError?: (e: BitrixError) => { value: unknown } | undefined;
  /** Not a method call: the second step of attachRecord's upload mode (multipart POST). */
  upload?: UploadSpec;
}

export interface UploadSpec {
  url: string | Ref<string>;
  field: string | Ref<string>;
  filename: string;
  content: Uint8Array;
}

/** Marker a repeated `finish` resolves with when the call had already been finished. */
export const alreadyFinished = Symbol('already finished');

const flagOn = (v: unknown, fallback: boolean): boolean => {
  if (v === undefined || v === null || v === '') return fallback;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return !['0', 'N', 'FALSE'].includes(v.trim().toUpperCase());
  return fallback;
};

const hasText = (v: unknown): boolean => (typeof v === 'string' && v.trim() !== '') || v instanceof Ref;

type Traits = Omit<Command, 'method' | 'params' | 'upload'>;

const read: Traits = { lane: 'read', batchable: true, repeatSafe: true, ridesWithReference: false };

/** Canonical (lower-case) method name → its traits, given the parameters of one call. */
const catalogue: Readonly<Record<string, (p: WireParams) => Traits>> = {
  /*
   * register: shows a card unless SHOW=0, so it takes the card lane then (a person is waiting for
   * the pop-up), the log lane otherwise (backfill of calls). Repeat-safe only with an
   * EXTERNAL_CALL_ID: the portal answers a repeat of an unfinished call registered in the last 30
   * minutes with the same CALL_ID instead of a second call; without one, a repeat could merge two
   * distinct calls, so we do not repeat. A finish never travels with the register it refers to
   * (see ridesWithReference of finish): once the call is finished the same parameters register a
   * *new* call, so a lost answer of a register+finish batch could not be repeated safely.
   */
  'telephony.externalcall.register': (p) => ({
    lane: flagOn(p.SHOW, true) ? 'card' : 'log',
    batchable: true,
    repeatSafe: hasText(p.EXTERNAL_CALL_ID),
    ridesWithReference: false,
  }),
  /*
   * show/hide: idempotent (the card is up or down afterwards, whatever came before); an unknown
   * CALL_ID gives `false`, not an error, so riding behind a register that fails is harmless.
   */
  'telephony.externalcall.show': () => ({
    lane: 'card',
    batchable: true,
    repeatSafe: true,
    ridesWithReference: true,
  }),
  'telephony.externalcall.hide': () => ({
    lane: 'card',
    batchable: true,
    repeatSafe: true,
    ridesWithReference: true,
  }),
  /*
   * finish: a finish whose answer was lost is repeated. If the first one did arrive the call is
   * gone and the repeat says "Call is not found": after a possibly delivered try, that means the
   * work is done, and the caller gets the typed "already finished" outcome. (On a first try the
   * same answer is a real error: the call was never registered or someone else finished it.)
   */
  'telephony.externalcall.finish': () => ({
    lane: 'log',
    batchable: true,
    repeatSafe: true,
    ridesWithReference: false,
    onRepeatError: (e) =>
      e.code === 'PORTAL_ERROR' && /call is not found/i.test(e.portalDescription ?? '')
        ? { value: alreadyFinished }
        : undefined,
  }),
  /*
   * attachRecord: a second attach replaces the recording (spec §2.5), so every mode is safe to
   * repeat. Only the URL mode may go inside a batch: the others carry (or announce) a file, and
   * file uploads are excluded from batch.
   */
  'telephony.externalcall.attachrecord': (p) => ({
    lane: 'log',
    batchable: hasText(p.RECORD_URL),
    repeatSafe: true,
    ridesWithReference: false,
  }),
  'telephony.externalcall.searchcrmentities': () => read,
  /* A repeated add says "Line already exists" and loses the id: not repeated blindly. */
  'telephony.externalline.add': () => ({ ...read, repeatSafe: false }),
  'telephony.externalline.update': () => read,
  /* A repeated delete says "Could not find line": after a possibly delivered try, that is done. */
  'telephony.externalline.delete': () => ({
    ...read,
    onRepeatError: (e) =>
      e.code === 'PORTAL_ERROR' && /could not find line/i.test(e.portalDescription ?? '')
        ? { value: [] }
        : undefined,
  }),
  'telephony.externalline.get': () => read,
  'crm.lead.get': () => read,
  'crm.contact.get': () => read,
  'crm.company.get': () => read,
  'crm.deal.get': () => read,
  'crm.activity.get': () => read,
  'crm.duplicate.findbycomm': () => read,
  'user.get': () => read,
  'user.admin': () => read,
  'user.current': () => read,
  /* A repeated bind says "Handler already binded": the caller decides what that means. */
  'event.bind': () => ({ ...read, repeatSafe: false }),
  'event.unbind': () => read,
  'event.get': () => read,
  /* Sends ONAPPTEST to the app's handlers: a repeat only sends another test event. */
  'event.test': () => read,
  'app.info': () => read,
};

/**
 * Traits of any method. Methods the client does not know are read-lane and not repeated after a
 * possibly delivered try: the client cannot know whether doing them twice is harmless.
 */
export function command(method: string, params: WireParams, overrides: Partial<Traits> = {}): Command {
  const traits = catalogue[method.toLowerCase()]?.(params) ?? { ...read, repeatSafe: false };
  return { method, params, ...traits, ...overrides };
}

/** The second step of attachRecord's upload mode: POST the file to the portal's upload URL. */
export function uploadCommand(spec: UploadSpec): Command {
  return {
    method: 'telephony.externalCall.attachRecord#upload',
    params: {},
    lane: 'log',
    batchable: false,
    // The upload replaces the recording like any attachRecord.
    repeatSafe: true,
    ridesWithReference: false,
    upload: spec,
  };
}
