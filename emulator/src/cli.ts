import { parseArgs } from 'node:util';
import { loadSeedFile, SeedError } from './portal/seed.ts';
import { startEmulator } from './server.ts';

const usage = `Usage: b24-emulator [--port 39100] [--host 127.0.0.1] [--seed FILE] [--enterprise]

A Bitrix24 portal emulator: REST (OAuth and incoming webhooks), OAuth token refresh, events,
rate limits and faults. Inspection and control API and a live page under /_emulator/.`;

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string', default: '39100' },
        host: { type: 'string', default: '127.0.0.1' },
        seed: { type: 'string' },
        enterprise: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`b24-emulator: ${(e as Error).message}\n\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(usage);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`b24-emulator: --port must be a port number, got ${values.port}`);
    process.exit(2);
  }
  let seed;
  try {
    seed = values.seed ? loadSeedFile(values.seed) : undefined;
  } catch (e) {
    if (e instanceof SeedError) {
      console.error(`b24-emulator: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  const emulator = await startEmulator({
    port,
    host: values.host,
    ...(seed ? { seed } : {}),
    ...(values.enterprise ? { settings: { rateLimit: { rate: 5, burst: 250 } } } : {}),
  }).catch((e: unknown) => {
    console.error(`b24-emulator: cannot listen on ${values.host}:${port}: ${(e as Error).message}`);
    process.exit(1);
  });
  console.log(`b24-emulator listening on ${emulator.url}`);
  console.log(`  REST (OAuth):      ${emulator.url}/rest/<method>`);
  if (emulator.webhookUrl) console.log(`  incoming webhook:  ${emulator.webhookUrl}<method>`);
  console.log(`  users' screens:    ${emulator.url}/_emulator/`);
  const stop = (): void => {
    void emulator.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

void main();
