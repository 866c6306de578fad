/** Structured logs (pino) with every secret scrubbed; one factory for the server and the CLI. */
import type { BridgeConfig } from '../config/index.ts';
import type { SecretSet } from './redact.ts';

export { createLogger, prettyLine } from './logger.ts';
export { SecretSet, tokensAsSecrets } from './redact.ts';

/** Every secret of a configuration, for the scrubber: whatever logs them later, they never print. */
export function addConfigSecrets(secrets: SecretSet, config: BridgeConfig): void {
  const { bitrix, store, admin } = config;
  if (bitrix.mode === 'app') secrets.add(bitrix.clientSecret);
  else {
    secrets.add(bitrix.url);
    // The secret part alone, as it may be logged without the rest of the URL.
    secrets.add(/\/rest\/\d+\/([^/]+)/.exec(bitrix.url)?.[1]);
  }
  if (store.kind === 'postgres') secrets.add(store.url);
  for (const pbx of config.pbx) {
    secrets.add(pbx.token);
    secrets.add(pbx.commandUrl);
  }
  secrets.add(admin.token);
  secrets.add(admin.password);
}
