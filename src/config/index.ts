/**
 * The one configuration of the bridge: a YAML or JSON file, the environment (`B24_BRIDGE_*`) over it, one
 * zod schema, checked at start with every problem named by its key and never by its value.
 */
export { type BridgeConfig, type BridgeConfigInput, type LineSettings } from './schema.ts';
export { loadConfig, parseConfig, type ConfigResult, type LoadOptions } from './load.ts';
export { envVariables } from './env.ts';
export { ConfigError } from './errors.ts';
export { configJsonSchema, redactConfig, secretEnvPattern, secretPaths } from './secrets.ts';
export { toEngineConfig } from './engine.ts';
export { DEMO_PBX_TOKEN, demoDocument } from './demo.ts';
