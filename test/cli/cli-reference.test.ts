// docs/cli.md is generated from the commands' definitions; it must match them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { CLI_REFERENCE_COMMAND, CLI_REFERENCE_FILE, cliReferenceMarkdown } from '../../src/cli/reference.js';

const root = join(import.meta.dirname, '..', '..');

describe('CLI reference (docs/cli.md)', () => {
  it('is up to date with the commands', () => {
    const expected = cliReferenceMarkdown();
    let current = '';
    try {
      current = readFileSync(join(root, CLI_REFERENCE_FILE), 'utf8');
    } catch {}
    if (current !== expected)
      expect.fail(
        `${CLI_REFERENCE_FILE} is out of date with the commands in src/cli/: regenerate it with \`${CLI_REFERENCE_COMMAND}\``,
      );
  });

  it('documents every command and option', () => {
    const text = cliReferenceMarkdown();
    for (const command of buildProgram().commands) {
      expect(text).toContain(`## insalun ${command.name()}`);
      for (const option of command.options) expect(text).toContain(option.long ?? option.short);
    }
  });

  it('names no path of the machine that generated it', () => {
    const text = cliReferenceMarkdown();
    expect(text).not.toContain(process.cwd());
    expect(text).not.toMatch(/\/(home|Users|tmp|root)\//);
  });
});
