import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Faults } from './settings.ts';

/**
 * The network-level faults every portal endpoint suffers alike (REST and the OAuth server): an
 * unreachable portal drops the connection, a broken one answers a gateway's HTML page, a slow one
 * answers late. Returns what happened, or null when the request may go on.
 */
export async function networkFault(
  faults: Faults,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<'refused' | 'outage' | null> {
  if (faults.outage === 'refuse') {
    req.socket.destroy();
    return 'refused';
  }
  if (faults.latencyMs > 0) await sleep(faults.latencyMs);
  if (faults.outage === '503') {
    res.writeHead(503, { 'content-type': 'text/html' });
    res.end('<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>');
    return 'outage';
  }
  return null;
}
