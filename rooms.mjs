// @ts-check
/**
 * The rooms of `src/` and what each may import: the architecture's arrows as data. ESLint turns
 * this table into import rules (an arrow pointing the wrong way fails `npm run lint`), a test
 * checks that it has no cycle, and docs/architecture.md draws it.
 *
 * `imports`: rooms whose values and types it may use; `types`: rooms it may name only in
 * `import type` (it implements or reports on their interfaces, never calls into them).
 *
 * @type {Record<string, { imports: string[]; types?: string[] }>}
 */
export const rooms = {
  core: { imports: [] },
  // Small shared pieces (clock, bounded memory): every room but the core may use them; they use nothing.
  kit: { imports: [] },
  // Retry policies as data and the one delay formula: every room but the core may use them.
  retry: { imports: [] },
  config: { imports: ['core', 'pbx'] },
  http: { imports: [] },
  security: { imports: [] },
  log: { imports: ['config'] },
  pbx: { imports: ['core', 'security'] },
  bitrix: { imports: [] },
  store: { imports: [], types: ['bitrix'] },
  outbox: { imports: ['core', 'bitrix', 'store'] },
  'crm-index': { imports: ['core', 'store'], types: ['bitrix'] },
  recordings: { imports: ['security'] },
  journal: { imports: ['core', 'store'], types: ['bitrix', 'outbox'] },
  intake: { imports: ['core', 'config', 'outbox', 'pbx'] },
  metrics: { imports: ['core'], types: ['bitrix', 'outbox', 'store'] },
  portal: { imports: ['bitrix', 'config', 'core', 'crm-index', 'outbox', 'store'], types: ['intake'] },
  app: { imports: ['bitrix', 'config', 'core', 'http', 'pbx', 'portal', 'security', 'store'] },
  admin: { imports: ['config', 'http', 'journal', 'security'], types: ['metrics'] },
  server: {
    imports: [
      'admin',
      'app',
      'bitrix',
      'config',
      'core',
      'http',
      'intake',
      'pbx',
      'recordings',
      'security',
      'store',
    ],
  },
  bridge: {
    imports: [
      'admin',
      'app',
      'bitrix',
      'config',
      'core',
      'crm-index',
      'http',
      'intake',
      'journal',
      'log',
      'metrics',
      'outbox',
      'pbx',
      'portal',
      'recordings',
      'security',
      'server',
      'store',
    ],
  },
  check: { imports: ['app', 'bitrix', 'bridge', 'config', 'log', 'pbx', 'store'] },
  cli: { imports: ['bitrix', 'bridge', 'check', 'config', 'core', 'outbox', 'store'] },
};

/**
 * ESLint `no-restricted-imports` blocks, one per room and folder depth: a relative import that
 * climbs out of the room (exactly as many `../` as the file is deep) into a room it may not use.
 * @returns {import('eslint').Linter.Config[]}
 */
export function roomRules() {
  const all = Object.keys(rooms);
  /** @type {import('eslint').Linter.Config[]} */
  const blocks = [];
  for (const [room, rule] of Object.entries(rooms)) {
    const types = rule.types ?? [];
    const forbidden = all.filter(
      (r) =>
        r !== room &&
        // The core stays pure: not even the clock.
        ((r !== 'kit' && r !== 'retry') || room === 'core') &&
        !rule.imports.includes(r) &&
        !types.includes(r),
    );
    const allowed = `may import: ${[...rule.imports, ...types.map((t) => `${t} (types)`)].join(', ') || 'nothing'}`;
    for (let depth = 1; depth <= 4; depth++) {
      const up = '\\.\\./'.repeat(depth);
      const glob = `src/${room}/${'*/'.repeat(depth - 1)}*.ts`;
      const patterns = [];
      if (forbidden.length > 0)
        patterns.push({
          regex: `^${up}(${forbidden.join('|')})(/|$)`,
          message: `src/${room}/ ${allowed} (rooms.mjs)`,
        });
      if (types.length > 0)
        patterns.push({
          regex: `^${up}(${types.join('|')})(/|$)`,
          allowTypeImports: true,
          message: `src/${room}/ may use only the types of ${types.join(', ')} (rooms.mjs)`,
        });
      if (patterns.length > 0)
        blocks.push({ files: [glob], rules: { 'no-restricted-imports': ['error', { patterns }] } });
    }
  }
  return blocks;
}
