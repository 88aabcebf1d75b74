// mask, unlearn, compare, demo, doctor: registered here as they land.
import type { Command } from 'commander';

export function registerUnlearningCommands(program: Command): void {
  void program;
}
