// `insalun report DIR`: an output folder (compare's today) as one self-contained HTML file, or
// Markdown with its charts as SVG files beside it.
import type { Command } from 'commander';
import { writeReport } from '../report/render.js';
import { choice } from './options.js';

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description(
      'a report of a compare output folder: the table and charts (metrics with error bars over seeds, relearning, mask density, layer-type shares and Jaccard overlap, IG completeness, training curves) as one self-contained HTML file',
    )
    .argument('<dir>', "compare's output folder (the one holding results.json)")
    .option(
      '--format <format>',
      'html (one file, charts inline) | md (Markdown, charts as SVG files beside it)',
      choice(['html', 'md'] as const),
      'html',
    )
    .option('--out <file>', 'where to write it (default: DIR/report.html or DIR/report.md)')
    .action(async (dir: string, o: { format: 'html' | 'md'; out?: string }) => {
      const written = await writeReport(dir, o.format, o.out);
      process.stdout.write(
        `wrote ${written[0]}${written.length > 1 ? ` and ${written.length - 1} chart files` : ''}\n`,
      );
    });
}
