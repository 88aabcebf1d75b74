// `insalun data download NAME [--dir DIR]`: fetches a data set into the data folder that every
// command reads when no --data-dir is given.
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { defaultDataDir } from '../data/data-dir.js';
import {
  DOWNLOADABLE_DATASETS,
  type DownloadOptions,
  type DownloadProgress,
  downloadDataset,
  readSourceOverrides,
} from '../data/download.js';

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** A cli-progress bar on a terminal; one line per file otherwise. */
export function downloadProgress(stream: NodeJS.WriteStream = process.stderr): DownloadProgress {
  const interactive = Boolean(stream.isTTY) && !process.env.CI;
  let bar: cliProgress.SingleBar | null = null;
  let startedAt = 0;
  let startedFrom = 0;
  return {
    start(file, url, total, resumedAt) {
      const size = total === null ? 'size unknown' : megabytes(total);
      const resumed = resumedAt > 0 ? `, resuming at ${megabytes(resumedAt)}` : '';
      if (!interactive || total === null) {
        stream.write(`${file}: ${url} (${size}${resumed})\n`);
        return;
      }
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${file} |{bar}| {percentage}% | {done} / {size} | {speed} | eta {eta_formatted}`,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      startedAt = Date.now();
      startedFrom = resumedAt;
      bar.start(total, resumedAt, { done: megabytes(resumedAt), size, speed: '-' });
    },
    advance(bytes) {
      if (!bar) return;
      const seconds = (Date.now() - startedAt) / 1000;
      const speed = seconds > 0 ? `${megabytes((bytes - startedFrom) / seconds)}/s` : '-';
      bar.update(bytes, { done: megabytes(bytes), speed });
    },
    end() {
      bar?.stop();
      bar = null;
    },
  };
}

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('data sets: download them into the data folder');
  data
    .command('download')
    .description(
      `fetch a data set from its official source (or the mirror $INSALUN_DATA_MIRROR), check its MD5 and unpack it ` +
        `where --dataset finds it without --data-dir; a broken download resumes when run again`,
    )
    .argument('<name>', DOWNLOADABLE_DATASETS.join(' | '))
    .option(
      '--dir <dir>',
      'data folder (default: $INSALUN_DATA_DIR, else $XDG_CACHE_HOME/insalun/data, else ~/.cache/insalun/data)',
    )
    .option('--force', 'download again and replace the data set when it is there already', false)
    .action(async (name: string, o: { dir?: string; force: boolean }) => {
      const options: DownloadOptions = { dir: o.dir ?? defaultDataDir(), force: o.force, progress: downloadProgress() };
      const overrides = process.env.INSALUN_DATA_SOURCES;
      if (overrides) options.sources = await readSourceOverrides(overrides);
      const result = await downloadDataset(name, options);
      process.stdout.write(
        result.downloaded
          ? `${name}: ready in ${result.folder}\n`
          : `${name}: already in ${result.folder} (--force downloads it again)\n`,
      );
    });
}
