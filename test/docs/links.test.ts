/**
 * The documentation is self-contained: every link in the README, docs/, the emulator's docs,
 * the examples, the chaos run's README and SECURITY.md points at a file of this repository (and,
 * with a `#fragment`, at one of its headings). A link, an autolink or a bare URL that leaves the
 * repository fails, wherever it stands outside code.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

function markdownUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return markdownUnder(path);
    return name.endsWith('.md') ? [path] : [];
  });
}

const documents = [
  join(root, 'README.md'),
  join(root, 'SECURITY.md'),
  join(root, 'chaos', 'README.md'),
  join(root, 'src', 'core', 'README.md'),
  ...markdownUnder(join(root, 'docs')),
  ...markdownUnder(join(root, 'emulator', 'docs')),
  ...markdownUnder(join(root, 'examples')),
];

/** The text outside fenced code blocks and inline code spans: code may show any URL. */
function prose(text: string): string {
  return text
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/(`+)[\s\S]*?\1/g, '');
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(file: string): Set<string> {
  const headings = prose(readFileSync(file, 'utf8'))
    .split('\n')
    .concat(
      // Headings keep their code spans: take them from the raw text (outside fenced blocks).
      readFileSync(file, 'utf8')
        .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
        .split('\n'),
    )
    .filter((l) => /^#{1,6} /.test(l))
    .map((l) => slug(l.replace(/^#{1,6} /, '')));
  return new Set(headings);
}

export interface LinkProblem {
  link: string;
  problem: string;
}

/** Every link of one Markdown text (at `file`) that does not stay in the repository or resolve. */
export function linkProblems(file: string, text: string): LinkProblem[] {
  const body = prose(text);
  const problems: LinkProblem[] = [];
  const targets = [
    ...[...body.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] ?? ''),
    ...[...body.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)].map((m) => m[1] ?? ''),
  ];
  for (const m of body.matchAll(/<([a-z][a-z0-9+.-]*:[^>\s]*)>/gi))
    problems.push({ link: m[1] ?? '', problem: 'an autolink leaves the repository' });
  const withoutLinks = body.replace(/\]\([^)]*\)/g, ']').replace(/<[^>\s]*>/g, '');
  for (const m of withoutLinks.matchAll(/\b(?:https?|ftp):\/\/[^\s)>\]]+/gi))
    problems.push({
      link: m[0],
      problem: 'a bare URL leaves the repository (put it in `code` if it is an example)',
    });
  for (const target of targets) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) {
      problems.push({ link: target, problem: 'leaves the repository' });
      continue;
    }
    const [pathPart = '', fragment] = target.split('#', 2);
    const path =
      pathPart === '' ? file : resolve(dirname(file), decodeURIComponent(pathPart.split('?')[0] ?? ''));
    if (relative(root, path).startsWith('..')) {
      problems.push({ link: target, problem: 'points outside the repository' });
      continue;
    }
    if (!existsSync(path)) {
      problems.push({ link: target, problem: 'no such file in the repository' });
      continue;
    }
    if (fragment !== undefined && fragment !== '' && path.endsWith('.md') && !anchorsOf(path).has(fragment))
      problems.push({ link: target, problem: `no heading #${fragment} in ${relative(root, path)}` });
  }
  return problems;
}

describe('the documentation', () => {
  it('has every document this test reads', () => {
    for (const name of [
      'docs/architecture.md',
      'docs/scenarios.md',
      'docs/configuration.md',
      'emulator/docs/bitrix24-rest.md',
    ])
      expect(documents.map((d) => relative(root, d))).toContain(name);
  });

  it.each(documents.map((d) => [relative(root, d), d]))(
    '%s links only within the repository',
    (_name, file) => {
      expect(linkProblems(file, readFileSync(file, 'utf8'))).toEqual([]);
    },
  );

  it('would catch a link that leaves the repository, a missing file and a missing heading', () => {
    const file = join(root, 'docs', 'x.md');
    const problems = linkProblems(
      file,
      [
        'See [the design](../../shared/design.md), [Bitrix24](https://apidocs.bitrix24.com/) and',
        '<https://example.com>, or https://example.org/page in the text, [a file](nowhere.md),',
        '[a heading](scenarios.md#no-such-heading), [fine](scenarios.md#1-a-direct-call) and',
        '`https://in-code.example` and [fine too](../README.md#two-commands).',
        '```sh',
        'curl https://in-a-code-block.example',
        '```',
      ].join('\n'),
    );
    expect(problems.map((p) => p.link)).toEqual([
      '<https://example.com>'.slice(1, -1),
      'https://example.org/page',
      '../../shared/design.md',
      'https://apidocs.bitrix24.com/',
      'nowhere.md',
      'scenarios.md#no-such-heading',
    ]);
  });
});
