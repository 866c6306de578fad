/**
 * The one configuration of the bridge: a YAML or JSON file, the environment (`B24_BRIDGE_*`) over it, one
 * zod schema, checked at start with every problem named by its key and never by its value.
 */
export {
  configSchema,
  demoLines,
  pbxKinds,
  type BridgeConfig,
  type BridgeConfigInput,
  type LineSettings,
  type PbxSettings,
} from './schema.ts';
export {
  configFileFormats,
  keyOf,
  loadConfig,
  parseConfig,
  parseDocument,
  type ConfigResult,
  type LoadOptions,
} from './load.ts';
export { applyEnv, CONFIG_FILE_VARIABLE, ENV_PREFIX, envVariables } from './env.ts';
export { ConfigError, configErrorCodes, type ConfigErrorCode, type ConfigProblem } from './errors.ts';
export { configJsonSchema, redactConfig, REDACTED, secretEnvPattern, secretPaths } from './secrets.ts';
export { toEngineConfig, type ToEngineOptions } from './engine.ts';
export { DEMO_PBX_TOKEN, demoDocument, type DemoOptions } from './demo.ts';
