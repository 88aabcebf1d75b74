// The command-line reference (docs/cli.md), generated from the commands' own definitions: the
// program that `insalun` runs, built without running it, and each command's help as `--help`
// prints it (with the text added after it), at a fixed width and with no machine-specific paths.
// `npm run docs:cli` writes docs/cli.md; test/cli/cli-reference.test.ts fails when it is stale.
import type { EventEmitter } from 'node:events';
import { homedir } from 'node:os';
import type { Command } from 'commander';
import { buildProgram } from './main.js';

export const CLI_REFERENCE_FILE = 'docs/cli.md';
export const CLI_REFERENCE_COMMAND = 'npm run docs:cli';

const HELP_WIDTH = 100;
// Environment variables that may change a default shown in the help (the data folder).
const MACHINE_VARIABLES = ['INSALUN_DATA_DIR', 'XDG_CACHE_HOME'];

/** A command's help as `insalun <command> --help` prints it, including text added after it. */
function helpOf(command: Command): string {
  command.configureOutput({ getOutHelpWidth: () => HELP_WIDTH, getOutHasColors: () => false });
  let text = command.helpInformation();
  let after = '';
  const context = { error: false, command, write: (s: string) => (after += s) };
  // addHelpText registers listeners of these events (a Command is an EventEmitter at run time).
  const events = command as unknown as EventEmitter;
  events.emit('afterHelp', context);
  events.emit('afterAllHelp', context);
  if (after) text += after;
  return text.trimEnd();
}

function buildWithoutMachinePaths(): Command {
  const saved = MACHINE_VARIABLES.map((name) => [name, process.env[name]] as const);
  for (const [name] of saved) delete process.env[name];
  try {
    return buildProgram();
  } finally {
    for (const [name, value] of saved) if (value !== undefined) process.env[name] = value;
  }
}

/** Every command and subcommand, by name ('data download'), in alphabetical order. */
function allCommands(parent: Command, prefix: string[]): { name: string; command: Command }[] {
  const sorted = [...parent.commands].sort((a, b) => a.name().localeCompare(b.name()));
  return sorted.flatMap((command) => {
    const path = [...prefix, command.name()];
    return [{ name: path.join(' '), command }, ...allCommands(command, path)];
  });
}

/** The Markdown of docs/cli.md. */
export function cliReferenceMarkdown(): string {
  const program = buildWithoutMachinePaths();
  const commands = allCommands(program, []);
  const lines = [
    '# Command-line reference',
    '',
    `<!-- Generated from the commands' definitions (src/cli/) by \`${CLI_REFERENCE_COMMAND}\`; do not edit by hand. -->`,
    '',
    program.description(),
    '',
    'Every command below takes `--help`. Options that take a value show it as `<value>`; defaults are in',
    'parentheses. Paths under your home folder are shown with `~`.',
    '',
    '| command | what it does |',
    '|---|---|',
    ...commands.map(
      ({ name, command }) =>
        `| [\`insalun ${name}\`](#insalun-${name.replace(/ /g, '-')}) | ${command.description().replace(/\|/g, '\\|')} |`,
    ),
  ];
  for (const { name, command } of commands) {
    lines.push('', `## insalun ${name}`, '', '```text', helpOf(command), '```');
  }
  const home = homedir();
  const text = `${lines.join('\n')}\n`;
  return home.length > 1 ? text.split(home).join('~') : text;
}
