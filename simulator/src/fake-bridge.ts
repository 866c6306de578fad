/**
 * Test support, not part of the simulator's API: just enough of a bridge's `/pbx/v1` to test the
 * simulator against over real HTTP. Every event it receives goes through the real parser of the
 * public API (`parseEvents`), so the simulator cannot drift from the contract unnoticed.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PbxCommand } from '../../src/pbx/types.ts';
import {
  parseCommandAck,
  parseEvents,
  parseRouteRequest,
  type ApiEvent,
  type CommandAck,
} from '../../src/pbx/webhook/index.ts';
import type { RouteRequested } from '../../src/pbx/types.ts';
import type { PlanStepWire } from './types.ts';

export interface FakeBridge {
  readonly url: string;
  /** Accepted events, flattened across batches, in arrival order. */
  readonly events: ApiEvent[];
  /** Bodies of `POST /events` the real parser refused: must stay empty. */
  readonly invalid: { body: unknown; problems: string }[];
  readonly routeRequests: RouteRequested[];
  readonly acks: { commandId: string; ack: CommandAck }[];
  /** Every request to `POST /events`, whatever it was answered. */
  eventRequests: number;
  /** What `/route` answers; default: the extension dialled, for 30 s. */
  plan: (request: RouteRequested) => PlanStepWire[];
  /** The next `n` event requests are answered with `status` (default 503), and not stored. */
  failNext(n: number, status?: number): void;
  queueCommand(command: PbxCommand): void;
  close(): Promise<void>;
}

export async function startFakeBridge(token = 'demo-token'): Promise<FakeBridge> {
  const commands: PbxCommand[] = [];
  const polls = new Set<{ limit: number; respond: (list: PbxCommand[]) => void }>();
  let failures = 0;
  let failureStatus = 503;

  const bridge: Omit<FakeBridge, 'url' | 'close'> = {
    events: [],
    invalid: [],
    routeRequests: [],
    acks: [],
    eventRequests: 0,
    plan: (request) => [{ extensions: [request.to], timeoutSec: 30 }],
    failNext(n, status = 503) {
      failures = n;
      failureStatus = status;
    },
    queueCommand(command) {
      commands.push(command);
      for (const poll of polls) {
        polls.delete(poll);
        poll.respond(commands.splice(0, poll.limit));
        return;
      }
    },
  };

  const json = (response: ServerResponse, status: number, body?: unknown): void => {
    if (body === undefined) {
      response.writeHead(status).end();
      return;
    }
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(request.url ?? '/', 'http://bridge');
    if (url.pathname === '/pbx/v1/events') bridge.eventRequests++;
    if (request.headers.authorization !== `Bearer ${token}`) {
      json(response, 401, { error: { code: 'UNAUTHORIZED', path: '/authorization', message: 'bad token' } });
      return;
    }
    const body: unknown = text === '' ? undefined : JSON.parse(text);
    if (request.method === 'POST' && url.pathname === '/pbx/v1/events') {
      if (failures > 0) {
        failures--;
        json(response, failureStatus, { error: { code: 'RECORDING_NOT_STORED', message: 'store down' } });
        return;
      }
      const parsed = parseEvents(body);
      if (!parsed.ok) {
        bridge.invalid.push({ body, problems: parsed.error.message });
        json(response, 400, { error: { code: 'INVALID_BODY', message: parsed.error.message } });
        return;
      }
      bridge.events.push(...parsed.value);
      json(response, 202, { accepted: parsed.value.length });
      return;
    }
    if (request.method === 'POST' && url.pathname === '/pbx/v1/route') {
      const parsed = parseRouteRequest(body);
      if (!parsed.ok) {
        json(response, 400, { error: { code: 'INVALID_BODY', message: parsed.error.message } });
        return;
      }
      bridge.routeRequests.push(parsed.value);
      json(response, 200, { plan: bridge.plan(parsed.value) });
      return;
    }
    if (request.method === 'GET' && url.pathname === '/pbx/v1/commands') {
      const limit = Number(url.searchParams.get('limit') ?? '50');
      const waitMs = Number(url.searchParams.get('wait') ?? '25') * 1000;
      if (commands.length > 0) {
        json(response, 200, commands.splice(0, limit));
        return;
      }
      const poll = {
        limit,
        respond: (list: PbxCommand[]) => {
          clearTimeout(timer);
          json(response, 200, list);
        },
      };
      const timer = setTimeout(() => {
        polls.delete(poll);
        json(response, 200, []);
      }, waitMs);
      polls.add(poll);
      response.on('close', () => {
        clearTimeout(timer);
        polls.delete(poll);
      });
      return;
    }
    const ack = /^\/pbx\/v1\/commands\/([^/]+)\/ack$/.exec(url.pathname);
    if (request.method === 'POST' && ack?.[1] !== undefined) {
      const parsed = parseCommandAck(body);
      if (!parsed.ok) {
        json(response, 400, { error: { code: 'INVALID_BODY', message: parsed.error.message } });
        return;
      }
      bridge.acks.push({ commandId: decodeURIComponent(ack[1]), ack: parsed.value });
      json(response, 204);
      return;
    }
    json(response, 404, { error: { code: 'NOT_FOUND', message: url.pathname } });
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      json(response, 500, { error: { code: 'INTERNAL', message: String(error) } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(bridge, {
    url: `http://127.0.0.1:${port}`,
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

/** Events as short lines, `"<seconds since start> <type> <details>"`, for readable exact assertions. */
export function timeline(events: readonly ApiEvent[], startMs: number): string[] {
  return events.map((event) => {
    const sec = event.at == null ? '?' : String((Date.parse(event.at) - startMs) / 1000);
    const detail = ((): string => {
      switch (event.type) {
        case 'call.started':
          return `${event.direction} ${event.from} -> ${event.to}${event.line == null ? '' : ` line ${event.line}`}`;
        case 'call.ringing':
        case 'call.ring_stopped':
          return event.extensions.join(',');
        case 'call.answered':
          return event.extension;
        case 'call.transferred':
          return event.to;
        case 'call.ended':
          return event.reason ?? '';
        case 'recording.ready':
          return event.url == null ? 'inline' : 'url';
      }
    })();
    return `${sec} ${event.callId} ${event.type} ${detail}`.trimEnd();
  });
}
