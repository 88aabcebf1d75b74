// The command line in-process: its exit code and what it printed, for tests of the CLI.
import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';

export async function runCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  const saved = process.exitCode;
  process.exitCode = 0;
  try {
    await main(['node', 'insalun', ...args]);
    return { code: Number(process.exitCode ?? 0), out, err };
  } finally {
    process.exitCode = saved;
    stdout.mockRestore();
    stderr.mockRestore();
  }
}
