/**
 * The one logger factory: pino, JSON lines by default (one object per line, for a log shipper),
 * or short plain lines for a person at a terminal. Every line passes the secret scrubber on its
 * way out, whoever logged it (the server, the CLI, fastify's request logs).
 */
import pino, { type Logger } from 'pino';
import { REDACTED, redactPaths, SecretSet } from './redact.ts';

type LogLevel = 'debug' | 'info' | 'warn' | 'error';

interface LoggerOptions {
  level?: LogLevel | undefined;
  /** `pretty` gives plain lines, but only on a terminal: piped output stays JSON. */
  format?: 'json' | 'pretty' | undefined;
  /** Default: stdout. */
  destination?: { write(text: string): unknown; isTTY?: boolean } | undefined;
  /** Values never to print; the caller adds more as it learns them (issued tokens). */
  secrets?: SecretSet | undefined;
  name?: string | undefined;
}

const levelNames: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const skipped = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

/** `12:03:04.123 INFO  message key=value …`: enough for a person, not a format to parse. */
export function prettyLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof o.time === 'number' ? new Date(o.time).toISOString().slice(11, 23) : '';
  const level = (levelNames[typeof o.level === 'number' ? o.level : 30] ?? 'INFO').padEnd(5);
  const rest = Object.entries(o)
    .filter(([k]) => !skipped.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const msg = typeof o.msg === 'string' ? o.msg : '';
  return `${time} ${level} ${msg}${rest === '' ? '' : ` ${rest}`}\n`;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const out = options.destination ?? process.stdout;
  const secrets = options.secrets ?? new SecretSet();
  const pretty = options.format === 'pretty' && out.isTTY === true;
  const stream = {
    write(line: string): void {
      const clean = secrets.scrub(line);
      out.write(pretty ? prettyLine(clean) : clean);
    },
  };
  return pino(
    {
      level: options.level ?? 'info',
      ...(options.name === undefined ? {} : { name: options.name }),
      base: { pid: process.pid },
      redact: { paths: redactPaths, censor: REDACTED },
    },
    stream,
  );
}
