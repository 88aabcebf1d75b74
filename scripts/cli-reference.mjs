#!/usr/bin/env node
// Writes docs/cli.md, the command-line reference, from the commands' own definitions (through the
// compiled src/cli/reference.ts). Run it as `npm run docs:cli`, which compiles first; with
// --check it writes nothing and exits 1 when docs/cli.md is out of date.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { CLI_REFERENCE_COMMAND, CLI_REFERENCE_FILE, cliReferenceMarkdown } = await import(
  join(root, 'dist', 'cli', 'reference.js')
);
const file = join(root, CLI_REFERENCE_FILE);
const text = cliReferenceMarkdown();
let current = null;
try {
  current = readFileSync(file, 'utf8');
} catch {}
if (process.argv.includes('--check')) {
  if (current !== text) {
    process.stderr.write(`${CLI_REFERENCE_FILE} is out of date: run \`${CLI_REFERENCE_COMMAND}\`\n`);
    process.exit(1);
  }
  process.stdout.write(`${CLI_REFERENCE_FILE} is up to date\n`);
} else if (current === text) {
  process.stdout.write(`${CLI_REFERENCE_FILE} is up to date\n`);
} else {
  writeFileSync(file, text);
  process.stdout.write(`wrote ${CLI_REFERENCE_FILE}\n`);
}
