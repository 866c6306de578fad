/** The `b24-bridge` command line: `demo`, `serve --config FILE`, `status`, `replay`. */
import { parseArgs } from 'node:util';
import { startBridge } from '../bridge/index.ts';
import { ConfigError, loadConfig } from '../config/index.ts';
import { addConfigSecrets, createLogger, SecretSet, type LogLevel } from '../log/index.ts';
import { replay } from './replay.ts';
import { formatStatus, readStatus } from './status.ts';

const usage = `Usage:
  b24-bridge demo [--port 3000] [--emulator-port 39100] [--no-simulator]
      the emulated Bitrix24 portal and the bridge installed into it, on one machine
  b24-bridge serve [--config FILE]
      runs the bridge (the file, then B24_BRIDGE_* variables over it)
  b24-bridge status [--config FILE]
      what waits for Bitrix24, per portal
  b24-bridge replay [--config FILE] [--portal MEMBER_ID] [--dry-run]
      what waits (per portal: entries, oldest, calls), then delivers it now, while the bridge is
      stopped; --dry-run only shows it`;

function fail(message: string, code = 2): never {
  console.error(`b24-bridge: ${message}`);
  process.exit(code);
}

function portOf(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) fail(`${flag} must be a port number 0–65535`);
  return port;
}

function untilSignal(close: () => Promise<void>): void {
  const stop = (): void => {
    void close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        port: { type: 'string' },
        'emulator-port': { type: 'string' },
        'no-simulator': { type: 'boolean', default: false },
        config: { type: 'string' },
        portal: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (e) {
    fail(`${(e as Error).message}\n\n${usage}`);
  }
  if (
    values.help ||
    command === undefined ||
    command === 'help' ||
    command === '--help' ||
    command === '-h'
  ) {
    console.log(usage);
    return;
  }
  switch (command) {
    case 'demo': {
      const simulator = !values['no-simulator'];
      const env = process.env;
      const secrets = new SecretSet();
      const level = env.B24_BRIDGE_LOG_LEVEL;
      const log = createLogger({
        level: level === 'debug' || level === 'warn' || level === 'error' ? level : 'info',
        format: 'pretty',
        secrets,
      });
      // The demo needs the emulator and the simulator, development packages that a production
      // install (npm ci --omit=dev, the Docker image) leaves out: load them only for this command.
      let demoModule: typeof import('./demo.ts');
      try {
        demoModule = await import('./demo.ts');
      } catch (e) {
        fail(
          `the demo needs the development packages (b24-emulator, b24-pbx-simulator): run npm install in the repository (${(e as Error).message})`,
        );
      }
      const { demoBanner, startDemo } = demoModule;
      const demo = await startDemo({
        port: portOf(values.port, '--port', 3000),
        emulatorPort: portOf(values['emulator-port'], '--emulator-port', 39100),
        simulator,
        // Secrets from outside (a test that must know them); the demo makes its own otherwise.
        secrets: {
          ...(env.B24_BRIDGE_BITRIX_CLIENT_SECRET
            ? { clientSecret: env.B24_BRIDGE_BITRIX_CLIENT_SECRET }
            : {}),
          ...(env.B24_BRIDGE_ADMIN_PASSWORD ? { adminPassword: env.B24_BRIDGE_ADMIN_PASSWORD } : {}),
          ...(env.B24_BRIDGE_PBX_DEMO_TOKEN ? { pbxToken: env.B24_BRIDGE_PBX_DEMO_TOKEN } : {}),
        },
        bridge: { loggerInstance: log, secrets, warn: (message) => log.warn(message) },
      });
      for (const line of demoBanner(demo, simulator)) console.log(line);
      untilSignal(() => demo.close());
      return;
    }
    case 'serve': {
      const { config, warnings } = loadConfig(values.config === undefined ? {} : { file: values.config });
      const secrets = new SecretSet();
      addConfigSecrets(secrets, config);
      const log = createLogger({
        level: config.logging.level satisfies LogLevel,
        format: config.logging.format,
        secrets,
      });
      for (const w of warnings) log.warn(w);
      const port = values.port === undefined ? undefined : portOf(values.port, '--port', 0);
      const retry = config.bitrix.retry;
      const bridge = await startBridge(config, {
        port,
        loggerInstance: log,
        secrets,
        warn: (message) => log.warn(message),
        ...(retry === undefined ? {} : { client: { retry } }),
      });
      log.info({ url: bridge.url }, 'b24-bridge listening');
      console.log(`b24-bridge listening on ${bridge.url}`);
      untilSignal(() => bridge.close());
      return;
    }
    case 'status': {
      const { config } = loadConfig(values.config === undefined ? {} : { file: values.config });
      for (const line of formatStatus(await readStatus(config))) console.log(line);
      return;
    }
    case 'replay': {
      const { config } = loadConfig(values.config === undefined ? {} : { file: values.config });
      const outcome = await replay(config, {
        portal: values.portal,
        dryRun: values['dry-run'],
        out: process.stdout,
      });
      // 1: something still waits (the portal cannot be reached), so a script can try again later.
      if (!outcome.complete) process.exitCode = 1;
      return;
    }
    default:
      fail(`unknown command ${JSON.stringify(command.slice(0, 40))}\n\n${usage}`);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  // Typed errors carry messages written for people (no secrets); anything else is a bug: its stack.
  if (e instanceof ConfigError) fail(e.message, 1);
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && e instanceof Error) fail(`${code}: ${e.message}`, 1);
  console.error(e);
  process.exit(1);
});
