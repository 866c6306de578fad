/**
 * The admin UI's request data, checked at the edge: path parameters, the login's query and the
 * forms. A parameter that cannot name anything is the same 404 as one that names nothing.
 */
import { z } from 'zod';
import { checked } from '../http/index.ts';

const name = (max: number) => z.string().min(1).max(max);

export const queueId = (params: unknown): string =>
  checked(z.object({ id: name(200) }), params, {
    code: 'QUEUE_NOT_FOUND',
    status: 404,
    message: 'no such queue',
  }).id;

export const portalId = (params: unknown): string =>
  checked(z.object({ portal: name(200) }), params, {
    code: 'PORTAL_NOT_FOUND',
    status: 404,
    message: 'no such portal',
  }).portal;

export const callKey = (params: unknown): string =>
  checked(z.object({ key: name(300) }), params, {
    code: 'CALL_NOT_FOUND',
    status: 404,
    message: 'no such call in the journal',
  }).key;

/** `?next=` of the login page: any text, judged by `safeNext`; anything else reads as none. */
export const nextOf = (query: unknown): string | undefined =>
  z
    .object({ next: z.string().optional().catch(undefined) })
    .catch({ next: undefined })
    .parse(query).next;

/** A urlencoded form as the admin UI's parser gives it (field → text); anything else reads as empty. */
export const formOf = (body: unknown): Record<string, unknown> =>
  z
    .record(z.string(), z.unknown())
    .catch({})
    .parse(body ?? {});
