import type { ServerResponse } from 'node:http';
import type { RestError } from '../errors.ts';

/** The `time` object of every REST answer (spec §1.3). */
export interface TimeInfo {
  start: number;
  finish: number;
  duration: number;
  processing: number;
  date_start: string;
  date_finish: string;
  operating_reset_at?: number;
  operating?: number;
}

/** ISO-8601 with the portal's UTC offset, e.g. `2026-03-10T11:19:38+03:00`. */
export function isoWithOffset(ms: number, offsetMinutes: number): string {
  const shifted = new Date(ms + offsetMinutes * 60_000);
  const base = shifted.toISOString().slice(0, 19);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${base}${sign}${hh}:${mm}`;
}

export function timeInfo(
  startMs: number,
  finishMs: number,
  processingSec: number,
  offsetMinutes: number,
): TimeInfo {
  const round = (n: number): number => Math.round(n * 1e6) / 1e6;
  return {
    start: round(startMs / 1000),
    finish: round(finishMs / 1000),
    duration: round((finishMs - startMs) / 1000),
    processing: round(processingSec),
    date_start: isoWithOffset(startMs, offsetMinutes),
    date_finish: isoWithOffset(finishMs, offsetMinutes),
  };
}

/**
 * PHP's json_encode turns an empty array, or one keyed 0..n-1, into a JSON list. Batch sections keyed
 * by command name follow that rule (spec §1.7), so an empty section is `[]`, not `{}`.
 */
export function phpSection(entries: Map<string, unknown>): unknown {
  const keys = [...entries.keys()];
  if (keys.every((k, i) => k === String(i))) return keys.map((k) => entries.get(k));
  return Object.fromEntries(entries);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, e: RestError): void {
  sendJson(res, e.status, { error: e.error, error_description: e.description });
}
