/**
 * A small round-robin load balancer, as an operator puts in front of several instances: each
 * request goes to the next instance; one that refuses the connection (killed, restarting) is
 * skipped for the next. No stickiness: any instance must take any request.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Balancer {
  readonly url: string;
  /** Requests answered 502 because no instance took them. */
  readonly unavailable: () => number;
  close(): Promise<void>;
}

export async function startBalancer(targets: readonly string[]): Promise<Balancer> {
  let next = 0;
  let unavailable = 0;
  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, tries: number): void => {
    const target = new URL(targets[next++ % targets.length] ?? '');
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host, connection: 'close' },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (res.headersSent) return res.destroy();
      if (tries + 1 < targets.length) return forward(req, res, body, tries + 1);
      unavailable++;
      res.writeHead(502).end();
    });
    res.on('close', () => upstream.destroy());
    upstream.end(body);
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => forward(req, res, Buffer.concat(chunks), 0));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(port)}`,
    unavailable: () => unavailable,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
