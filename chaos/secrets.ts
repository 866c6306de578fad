/**
 * No secret in the bridge's log: the whole log of the run (every restart's stdout and stderr) is
 * searched for every secret the run knows, as it is and URL-encoded.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

export interface SecretScan {
  /** Log lines holding some secret. */
  secretsInLogs: number;
  /** Which kinds were found (labels only: the report must not print the secrets either). */
  found: string[];
  lines: number;
  secretsKnown: number;
}

export async function scanLog(logPath: string, secrets: ReadonlyMap<string, string>): Promise<SecretScan> {
  const needles: { needle: string; label: string }[] = [];
  for (const [value, label] of secrets) {
    if (value.length < 8) continue;
    needles.push({ needle: value, label });
    const encoded = encodeURIComponent(value);
    if (encoded !== value) needles.push({ needle: encoded, label });
  }
  let lines = 0;
  let hits = 0;
  const found = new Set<string>();
  const input = createInterface({ input: createReadStream(logPath), crlfDelay: Infinity });
  for await (const line of input) {
    lines++;
    let hit = false;
    for (const { needle, label } of needles) {
      if (line.includes(needle)) {
        hit = true;
        found.add(label);
      }
    }
    if (hit) hits++;
  }
  return { secretsInLogs: hits, found: [...found], lines, secretsKnown: secrets.size };
}
