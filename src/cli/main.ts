/**
 * The `b24-bridge` command line: `demo`, `serve`, `check`, `config schema|show`, `status`,
 * `replay`. Each command loads what it needs when it runs, so `--help` and `config schema` answer
 * without loading the server, the store or the Bitrix24 client.
 */
import { parseArgs } from 'node:util';
import type { LoadOptions } from '../config/index.ts';

const usage = `Usage:
  b24-bridge demo [--port 3000] [--emulator-port 39100] [--no-simulator]
      the emulated Bitrix24 portal and the bridge installed into it, on one machine
  b24-bridge serve [--config FILE] [--port N]
      runs the bridge (the file, then B24_BRIDGE_* variables over it)
  b24-bridge check [--config FILE]
      is the setup ready? checks the file, then tries what it names: the store, the recordings
      directory, each portal's tokens and rights, the public URL, each Asterisk's AMI login and
      permissions; prints a checklist with a fix for each failure; exit code 0 only when ready
  b24-bridge config schema
      the configuration's JSON Schema (for editors: "$schema" in a JSON file, or
      "# yaml-language-server: $schema=…" in a YAML one)
  b24-bridge config show [--config FILE]
      the configuration as the bridge reads it: defaults filled in, secrets redacted
  b24-bridge status [--config FILE]
      what waits for Bitrix24, per portal
  b24-bridge replay [--config FILE] [--portal MEMBER_ID] [--dry-run]
      what waits (per portal: entries, oldest, calls), then delivers it now, while the bridge is
      stopped; --dry-run only shows it

The configuration file is YAML (.yaml, .yml) or JSON (.json); without --config, $B24_BRIDGE_CONFIG.`;

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

/**
 * The demo's parts: the emulator and the simulator are workspace packages that run from their
 * TypeScript sources (development tools, left out of a production install). Under the compiled
 * bridge, tsx (also a development tool) is registered first so Node can load them.
 */
async function loadDemo(): Promise<typeof import('./demo.ts')> {
  try {
    if (!import.meta.url.endsWith('.ts')) {
      const { register } = await import('tsx/esm/api');
      register();
    }
    return await import('./demo.ts');
  } catch (e) {
    fail(
      `the demo needs the development packages (b24-emulator, b24-pbx-simulator, tsx): run npm install in the repository (${(e as Error).message})`,
    );
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...afterCommand] = argv;
  // `config` has subcommands: `config schema`, `config show`.
  const sub =
    command === 'config' && afterCommand[0]?.startsWith('-') === false ? afterCommand[0] : undefined;
  const rest = sub === undefined ? afterCommand : afterCommand.slice(1);
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
  const fileOption: LoadOptions = values.config === undefined ? {} : { file: values.config };
  switch (command) {
    case 'demo': {
      const simulator = !values['no-simulator'];
      const { demoBanner, startDemo, watchDemoCalls } = await loadDemo();
      const { createLogger, SecretSet } = await import('../log/index.ts');
      const env = process.env;
      const secrets = new SecretSet();
      const level = env.B24_BRIDGE_LOG_LEVEL;
      // A terminal shows the call lines, and only the warnings of the log between them.
      const terminal = process.stdout.isTTY;
      const log = createLogger({
        level:
          level === 'debug' || level === 'info' || level === 'warn' || level === 'error'
            ? level
            : terminal
              ? 'warn'
              : 'info',
        format: 'pretty',
        secrets,
      });
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
      // A person at a terminal reads one line per call event; piped output stays the JSON log.
      if (terminal) {
        console.log('\nCalls as they happen (Ctrl-C stops the demo):');
        watchDemoCalls(demo, (line) => console.log(line));
      }
      untilSignal(() => demo.close());
      return;
    }
    case 'serve': {
      const { loadConfig } = await import('../config/index.ts');
      const { addConfigSecrets, createLogger, SecretSet } = await import('../log/index.ts');
      const { startBridge } = await import('../bridge/index.ts');
      const { config, warnings } = loadConfig(fileOption);
      const secrets = new SecretSet();
      addConfigSecrets(secrets, config);
      const log = createLogger({ level: config.logging.level, format: config.logging.format, secrets });
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
    case 'check': {
      const { runCheck, formatChecklist } = await import('../check/index.ts');
      const report = await runCheck(fileOption);
      for (const line of formatChecklist(report)) console.log(line);
      process.exitCode = report.ready ? 0 : 1;
      return;
    }
    case 'config': {
      const { configJsonSchema, loadConfig, redactConfig } = await import('../config/index.ts');
      if (sub === 'schema') {
        console.log(JSON.stringify(configJsonSchema(), null, 2));
        return;
      }
      if (sub === 'show') {
        const { config, warnings } = loadConfig(fileOption);
        for (const w of warnings) console.error(`b24-bridge: ${w}`);
        console.log(JSON.stringify(redactConfig(config), null, 2));
        return;
      }
      fail(`config needs a subcommand: schema or show\n\n${usage}`);
      break;
    }
    case 'status': {
      const { loadConfig } = await import('../config/index.ts');
      const { formatStatus, readStatus } = await import('./status.ts');
      const { config } = loadConfig(fileOption);
      for (const line of formatStatus(await readStatus(config))) console.log(line);
      return;
    }
    case 'replay': {
      const { loadConfig } = await import('../config/index.ts');
      const { replay } = await import('./replay.ts');
      const { config } = loadConfig(fileOption);
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
  if (e instanceof Error && e.name === 'ConfigError') fail(e.message, 1);
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && e instanceof Error) fail(`${code}: ${e.message}`, 1);
  console.error(e);
  process.exit(1);
});
