// Progress for long runs: a cli-progress bar on a terminal, one line per epoch otherwise.
import cliProgress from 'cli-progress';
import type { Reporter } from '../experiment/loop.js';

export function terminalReporter(stream: NodeJS.WriteStream = process.stderr): Reporter {
  const interactive = Boolean(stream.isTTY) && !process.env.CI;
  let bar: cliProgress.SingleBar | null = null;
  let correct = 0,
    count = 0,
    lossSum = 0;
  return {
    startEpoch(label, epoch, epochs, batches) {
      correct = count = lossSum = 0;
      if (!interactive) return;
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${label} ${epoch + 1}/${epochs} |{bar}| {value}/{total} batches | loss {loss} | acc {acc}% | {speed} img/s | eta {eta_formatted}`,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(batches, 0, { loss: '-', acc: '-', speed: '-' });
    },
    batch(p, imagesPerSecond) {
      correct += p.correct;
      count += p.count;
      lossSum += p.loss * p.count;
      bar?.update(p.batch, {
        loss: (lossSum / count).toFixed(4),
        acc: ((100 * correct) / count).toFixed(1),
        speed: imagesPerSecond.toFixed(1),
      });
    },
    endEpoch(summary) {
      bar?.stop();
      bar = null;
      stream.write(`${summary}\n`);
    },
    log(message) {
      stream.write(`${message}\n`);
    },
  };
}
