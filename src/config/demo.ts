/**
 * The configuration document of `npx b24-bridge demo`: the emulator's portal as an installed app,
 * one PBX with the token `demo-token`, and everything else from the schema's defaults (the demo
 * office). The demo chooses the app's credentials and registers them with the emulator, so they
 * come in here rather than living in the defaults of a real installation.
 */
import type { BridgeConfigInput } from './schema.ts';

interface DemoOptions {
  readonly clientId: string;
  readonly clientSecret: string;
  /** The emulator's OAuth token URL. */
  readonly oauthUrl: string;
  readonly port?: number;
  /** `--no-simulator`: the PBX is whoever calls the API with `demo-token`. */
  readonly simulator?: boolean;
  readonly sqlitePath?: string;
}

export const DEMO_PBX_TOKEN = 'demo-token';

export function demoDocument(options: DemoOptions): BridgeConfigInput {
  const port = options.port ?? 3000;
  return {
    server: { port, publicUrl: `http://127.0.0.1:${port}` },
    store: { kind: 'sqlite', path: options.sqlitePath ?? 'data/demo.sqlite' },
    bitrix: {
      mode: 'app',
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      oauthUrl: options.oauthUrl,
    },
    pbx: [{ id: 'demo', token: DEMO_PBX_TOKEN, kind: options.simulator === false ? 'webhook' : 'simulator' }],
    // The emulator's seed portal: Admin is user 1; calls nobody else qualifies for land there.
    engine: { defaultUserId: 1 },
    logging: { format: 'pretty' },
  };
}
