// The insalun command line. Each command validates its flags, runs one experiment step, and turns
// every failure into one clear message and a non-zero exit.
import { Command, CommanderError } from 'commander';
import { accuracyOn, unlearningScores } from '../experiment/evaluate.js';
import { DEFAULT_FORGET_SEED, selectForget } from '../experiment/forget.js';
import { trainOptions, trainOriginal } from '../experiment/train.js';
import { openCheckpoint } from '../masks/generate.js';
import { registerDataCommands } from './data-command.js';
import { stopOnInterrupt } from './interrupt.js';
import {
  choice,
  computeOptions,
  deviceOption,
  integer,
  number,
  numberList,
  precisionOption,
  stepCaptureOption,
} from './options.js';
import { terminalReporter } from './progress.js';
import { registerReportCommand } from './report-command.js';
import { registerSweepCommand } from './sweep-command.js';
import { registerUnlearningCommands } from './unlearning-commands.js';

function addTrainCommand(program: Command): void {
  program
    .command('train')
    .description(
      'train the original ResNet-18 (SalUn recipe by default) and write init/last/best checkpoints and summary.json',
    )
    .option(
      '--dataset <name>',
      'synthetic | cifar10 | cifar100 | mnist | fashion-mnist | svhn | tiny-imagenet',
      'synthetic',
    )
    .option('--data-dir <dir>', 'directory holding the dataset files')
    .option(
      '--val-fraction <f>',
      'per-class validation hold-out (0 keeps the whole training set as the pool)',
      number(0, 0.9),
      0.1,
    )
    .option('--split-seed <n>', 'seed of the validation hold-out', integer(0), 0)
    .option('--train-limit <n>', 'use only the first N official training images', integer(1))
    .option('--test-limit <n>', 'use only the first N test images', integer(1))
    .option('--synthetic-size <n>', 'synthetic: training images', integer(10), 5000)
    .option('--synthetic-test-size <n>', 'synthetic: test images', integer(10), 1000)
    .option('--synthetic-seed <n>', 'synthetic: generator seed', integer(0), 0)
    .option('--width <n>', 'base width (64 = the paper; 16 is fast on a CPU)', integer(1, 1024), 64)
    .option('--epochs <n>', 'epochs', integer(1), 182)
    .option('--batch-size <n>', 'batch size', integer(1), 256)
    .option('--lr <x>', 'learning rate', number(0), 0.1)
    .option('--momentum <x>', 'SGD momentum', number(0, 1), 0.9)
    .option('--weight-decay <x>', 'weight decay', number(0), 5e-4)
    .option('--nesterov', 'Nesterov momentum', false)
    .option(
      '--schedule <kind>',
      'multistep | cosine | constant',
      choice(['multistep', 'cosine', 'constant'] as const),
      'multistep',
    )
    .option(
      '--milestones <list>',
      'multistep: epochs where lr x gamma (default: 50% and 75% of the epochs, rounded down)',
      numberList(0),
    )
    .option('--gamma <x>', 'multistep factor', number(0), 0.1)
    .option('--no-augment', 'no random crop / flip (small sets memorize better without)')
    .option('--seed <n>', 'initialization, shuffling and augmentation seed', integer(0), 0)
    .option('--out <dir>', 'output directory', 'runs/train')
    .option('--resume', 'continue from <out>/last.safetensors and its optimizer state', false)
    .addOption(deviceOption())
    .addOption(precisionOption())
    .addOption(stepCaptureOption())
    .action(async (o) => {
      const options = trainOptions(o, {
        data: {
          dataset: o.dataset,
          dataDir: o.dataDir,
          valFraction: o.valFraction,
          splitSeed: o.splitSeed,
          synthetic: { trainSize: o.syntheticSize, testSize: o.syntheticTestSize, seed: o.syntheticSeed },
          trainLimit: o.trainLimit,
          testLimit: o.testLimit,
        },
        compute: computeOptions(o),
        width: o.width,
        seed: o.seed,
        outDir: o.out,
        resume: o.resume,
      });
      const interrupt = stopOnInterrupt();
      try {
        const summary = await trainOriginal(options, terminalReporter(), (m) => interrupt.attach(m));
        if (!summary.completed) {
          process.stderr.write(
            `stopped after ${summary.epochsDone} complete epochs; ${o.out}/last.safetensors is intact, continue with --resume\n`,
          );
          process.exitCode = 130;
          return;
        }
        const a = summary.accuracy!;
        process.stdout.write(
          `done: train ${a.train.toFixed(2)}%, val ${a.val === null ? '-' : `${a.val.toFixed(2)}%`}, test ${a.test.toFixed(2)}% in ${summary.seconds.toFixed(1)} s; checkpoints in ${o.out}\n`,
        );
      } finally {
        interrupt.release();
      }
    });
}

function addEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('accuracy on train (pool), validation and test; with --forget also UA, RA, TA and MIA-efficacy')
    .requiredOption('--checkpoint <file>', 'a checkpoint written by insalun (or a PyTorch state_dict with --dataset)')
    .option('--dataset <name>', 'override the dataset recorded in the checkpoint')
    .option('--data-dir <dir>', 'override the data directory recorded in the checkpoint')
    .option('--forget <spec>', 'random:N | class:C | file:PATH')
    .option('--forget-seed <n>', 'seed of random forget sets', integer(0), DEFAULT_FORGET_SEED)
    .option('--all-mia', 'also report MIA with entropy, modified entropy, correctness and probabilities', false)
    .option('--json', 'print one JSON object', false)
    .addOption(deviceOption())
    .addOption(precisionOption())
    .addOption(stepCaptureOption())
    .action(async (o) => {
      using opened = await openCheckpoint(o.checkpoint, computeOptions(o), { dataset: o.dataset, dataDir: o.dataDir });
      const { model, data } = opened;
      const result: Record<string, unknown> = {
        checkpoint: o.checkpoint,
        dataset: data.spec.dataset,
        train: await accuracyOn(model, data, data.pool),
        val: data.val.length ? await accuracyOn(model, data, data.val) : null,
        test: await accuracyOn(model, data, data.test, 'test'),
      };
      if (o.forget) {
        const view = selectForget(data, o.forget, o.forgetSeed);
        const scores = await unlearningScores(model, data, view, o.allMia);
        Object.assign(result, { forget: o.forget, forgetCount: view.forget.length, ...scores });
      }
      if (o.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
      }
      for (const [key, value] of Object.entries(result)) {
        const shown =
          typeof value === 'number'
            ? `${value.toFixed(2)}${['train', 'val', 'test', 'UA', 'RA', 'TA', 'MIA'].includes(key) ? ' %' : ''}`
            : JSON.stringify(value);
        process.stdout.write(`${key.padEnd(12)} ${shown}\n`);
      }
    });
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('insalun')
    .description(
      'Machine unlearning with SalUn and InSalUn (integrated-gradient) saliency masks on a native ResNet-18 engine',
    )
    .showHelpAfterError('(run with --help for usage)');
  addTrainCommand(program);
  addEvalCommand(program);
  registerUnlearningCommands(program);
  registerDataCommands(program);
  registerReportCommand(program);
  registerSweepCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`insalun: error: ${message}\n`);
    process.exitCode = 1;
  }
}
