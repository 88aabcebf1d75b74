// mask, doctor (and unlearn, compare, demo as they are registered below).
import type { Command } from 'commander';
import { DEFAULT_FORGET_SEED, selectForget } from '../experiment/forget.js';
import { generateMasks, openCheckpoint, type MaskMethod } from '../masks/generate.js';
import { RULES, type Rule } from '../masks/quadrature.js';
import { loadAddon } from '../native/index.js';
import { choice, integer, numberList, resolveDevice, type DeviceFlag } from './options.js';

const DEVICES = ['auto', 'cpu', 'cuda'] as const;

function addMaskCommand(program: Command): void {
  program
    .command('mask')
    .description("weight-saliency masks over the forget set: SalUn's gradient (grad) or InSalUn's integrated gradients (ig)")
    .requiredOption('--method <m>', 'grad | ig', choice(['grad', 'ig'] as const))
    .requiredOption('--checkpoint <file>', 'the trained (original) model')
    .requiredOption('--forget <spec>', 'random:N | class:C | file:PATH')
    .option('--forget-seed <n>', 'seed of random forget sets', integer(0), DEFAULT_FORGET_SEED)
    .option('--ratios <list>', 'mask ratios in (0, 1]', numberList(0, 1), [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    .option('--out <dir>', 'output directory', 'runs/masks')
    .option('--batch-size <n>', 'forget batch size', integer(1), 256)
    .option('--no-augment', 'grad: un-augmented forget images (SalUn augments)')
    .option('--seed <n>', 'grad: augmentation seed', integer(0), 0)
    .option('--baseline <b>', "ig: zero | init (the checkpoint directory's init.safetensors) | a checkpoint file", 'zero')
    .option('--rule <r>', `ig: ${RULES.join(' | ')}`, choice(RULES), 'middle')
    .option('--steps <m>', 'ig: path points', integer(1), 20)
    .option('--data-dir <dir>', 'override the data directory recorded in the checkpoint')
    .option('--device <d>', 'auto | cpu | cuda', choice(DEVICES), 'auto')
    .action(async (o) => {
      const device = resolveDevice(o.device as DeviceFlag);
      const { model, data } = await openCheckpoint(o.checkpoint, device, { dataDir: o.dataDir });
      const view = selectForget(data, o.forget, o.forgetSeed);
      const summary = await generateMasks(
        model,
        data,
        view,
        { method: o.method as MaskMethod, ratios: o.ratios, outDir: o.out, batchSize: o.batchSize, seed: o.seed, augment: o.augment, baseline: o.baseline, rule: o.rule as Rule, steps: o.steps },
        o.checkpoint,
        (k, of) => process.stderr.write(`\rig: path point ${k}/${of}`),
      );
      if (o.method === 'ig') process.stderr.write('\n');
      const c = summary.completeness;
      if (c) {
        process.stdout.write(`completeness: sum IG = ${c.sumIg.toExponential(4)}, L(theta) - L(theta') = ${c.lossDifference.toExponential(4)} (L(theta) = ${c.lossAtModel.toFixed(4)}, L(theta') = ${c.lossAtBaseline.toFixed(4)}), relative gap ${c.relativeGap.toExponential(2)}\n`);
      }
      process.stdout.write(`${summary.masks.length} masks over ${view.forget.length} forget images in ${summary.seconds.toFixed(1)} s -> ${o.out}\n`);
    });
}

function addDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('which backends this installation has, and why a backend is or is not available')
    .action(() => {
      const info = loadAddon().backends();
      process.stdout.write(`node ${process.version}, ${process.platform}-${process.arch}\n`);
      process.stdout.write(`cpu backend: available, ${info.cpuThreads} OpenMP threads\n`);
      process.stdout.write(`cuda backend: ${info.cuda ? 'available' : `not available (${info.cudaWhy})`}\n`);
      if (info.cudaReport) process.stdout.write(`${info.cudaReport}\n`);
      process.stdout.write(`--device auto selects: ${info.cuda ? 'cuda' : 'cpu'}\n`);
    });
}

export function registerUnlearningCommands(program: Command): void {
  addMaskCommand(program);
  addDoctorCommand(program);
}
