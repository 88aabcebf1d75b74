// mask, doctor (and unlearn, compare, demo as they are registered below).
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { parseCompareConfig, runCompare } from '../experiment/compare.js';
import { DEMO_CONFIG } from '../experiment/demo.js';
import type { UnlearningScores } from '../experiment/evaluate.js';
import { DEFAULT_FORGET_SEED, selectForget } from '../experiment/forget.js';
import type { TrainRecipe } from '../experiment/loop.js';
import { pairedComparisons, pairedTable, readCompareRows } from '../experiment/paired.js';
import { runTunedCompare } from '../experiment/tuning.js';
import { saveUnlearned, unlearnModel } from '../experiment/unlearn.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { renderTable, toMarkdown } from '../io/results.js';
import { BASELINE_SYNTAX } from '../masks/baseline.js';
import { generateMasks, type MaskMethod, type MaskSummary, openCheckpoint } from '../masks/generate.js';
import { RULES, type Rule } from '../masks/quadrature.js';
import {
  type Completeness,
  DEFAULT_CONTRAST_LAMBDA,
  DEFAULT_RETAIN_FLOOR,
  IG_TARGETS,
  type IgTarget,
} from '../masks/saliency.js';
import { addonPath, loadAddon } from '../native/index.js';
import { type HyperValues, hyperProblem, METHOD_DEFAULTS, METHOD_NAMES, type MethodName } from '../unlearn/methods.js';
import { addBenchCommand } from './bench-command.js';
import { stopOnInterruptLite } from './interrupt.js';
import {
  choice,
  computeOptions,
  deviceOption,
  integer,
  number,
  numberList,
  precisionOption,
  resolveDevice,
  stepCaptureOption,
} from './options.js';
import { terminalReporter } from './progress.js';

function addMaskCommand(program: Command): void {
  program
    .command('mask')
    .description(
      "weight-saliency masks over the forget set: SalUn's gradient (grad) or InSalUn's integrated gradients (ig)",
    )
    .requiredOption('--method <m>', 'grad | ig', choice(['grad', 'ig'] as const))
    .requiredOption('--checkpoint <file>', 'the trained (original) model')
    .requiredOption('--forget <spec>', 'random:N | class:C | file:PATH')
    .option('--forget-seed <n>', 'seed of random forget sets', integer(0), DEFAULT_FORGET_SEED)
    .option(
      '--ratios <list>',
      'mask ratios in (0, 1]',
      numberList(0, 1),
      [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
    )
    .option('--out <dir>', 'output directory', 'runs/masks')
    .option('--batch-size <n>', 'forget batch size', integer(1), 256)
    .option('--no-augment', 'grad: un-augmented forget images (SalUn augments)')
    .option('--seed <n>', 'grad: augmentation seed', integer(0), 0)
    .option('--baseline <b>', `ig: ${BASELINE_SYNTAX}; init is the checkpoint directory's init.safetensors`, 'zero')
    .option('--rule <r>', `ig: ${RULES.join(' | ')}`, choice(RULES), 'middle')
    .option('--steps <m>', 'ig: path points', integer(1), 20)
    .option(
      '--ig-target <t>',
      `ig: ${IG_TARGETS.join(' | ')}: the forget loss, forget minus lambda x retain loss, or forget divided by retain importance (docs/method.md 4d)`,
      choice(IG_TARGETS),
      'forget',
    )
    .option('--lambda <x>', 'ig contrastive: weight of the retain loss', number(0), DEFAULT_CONTRAST_LAMBDA)
    .option(
      '--floor <x>',
      'ig retain-normalized: floor of the retain importance, as a fraction of its mean',
      number(0),
      DEFAULT_RETAIN_FLOOR,
    )
    .option('--second-forget <spec>', 'also the masks of a second forget set, to report their Jaccard overlap')
    .option(
      '--second-forget-seed <n>',
      "seed of the second forget set (alone: the first set's spec with this seed)",
      integer(0),
    )
    .option('--data-dir <dir>', 'override the data directory recorded in the checkpoint')
    .addOption(deviceOption())
    .addOption(precisionOption())
    .addOption(stepCaptureOption())
    .action(async (o) => {
      using opened = await openCheckpoint(o.checkpoint, computeOptions(o), { dataDir: o.dataDir });
      const { model, data } = opened;
      const view = selectForget(data, o.forget, o.forgetSeed);
      const second =
        o.secondForget !== undefined || o.secondForgetSeed !== undefined
          ? selectForget(data, o.secondForget ?? o.forget, o.secondForgetSeed ?? o.forgetSeed)
          : undefined;
      const summary = await generateMasks(
        model,
        data,
        view,
        {
          method: o.method as MaskMethod,
          ratios: o.ratios,
          outDir: o.out,
          batchSize: o.batchSize,
          seed: o.seed,
          augment: o.augment,
          baseline: o.baseline,
          rule: o.rule as Rule,
          steps: o.steps,
          ...(o.method === 'ig' ? { target: o.igTarget as IgTarget, lambda: o.lambda, floor: o.floor } : {}),
        },
        o.checkpoint,
        (k, of) => process.stderr.isTTY && process.stderr.write(`\rig: path point ${k}/${of}`),
        second,
      );
      if (o.method === 'ig' && process.stderr.isTTY) process.stderr.write('\n');
      const completeness = (what: string, c: Completeness) =>
        process.stdout.write(
          `${what}: sum IG = ${c.sumIg.toExponential(4)}, L(theta) - L(theta') = ${c.lossDifference.toExponential(4)} (L(theta) = ${c.lossAtModel.toFixed(4)}, L(theta') = ${c.lossAtBaseline.toFixed(4)}), relative gap ${c.relativeGap.toExponential(2)}\n`,
        );
      if (summary.completeness) completeness('completeness', summary.completeness);
      if (summary.retainCompleteness) completeness('completeness of the retain IG', summary.retainCompleteness);
      process.stdout.write(specificityText(summary));
      process.stdout.write(
        `${summary.masks.length} masks over ${view.forget.length} forget images in ${summary.seconds.toFixed(1)} s -> ${o.out}\n`,
      );
    });
}

const percent = (x: number) => `${(100 * x).toFixed(1)}%`;

/** Where the saliency and each mask lie by layer type, and the Jaccard overlap with the second set's masks. */
function specificityText(summary: MaskSummary): string {
  const lines = [
    `saliency share: ${summary.saliencyShare.map((t) => `${t.type} ${percent(t.share)}`).join(', ')} (parameters: ${summary.masks[0].layerTypes.map((t) => `${t.type} ${percent(t.parameterShare)}`).join(', ')})`,
  ];
  for (const m of summary.masks) {
    const j = summary.specificity?.jaccard.find((x) => x.ratio === m.ratio);
    lines.push(
      `mask ${m.ratio}: ${m.layerTypes.map((t) => `${t.type} ${percent(t.maskShare)}`).join(', ')}${j ? `; Jaccard with the second forget set ${j.jaccard.toFixed(3)}` : ''}`,
    );
  }
  const s = summary.specificity;
  if (s)
    lines.push(
      `second forget set: ${s.forget.spec} seed ${s.forget.seed}, ${s.forget.count} images (${s.forget.shared} shared)`,
    );
  return `${lines.join('\n')}\n`;
}

function addDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('which backends this installation has, and why a backend is or is not available')
    .action(() => {
      const addon = loadAddon();
      const info = addon.backends();
      const build = [`CPU code for -march=${info.build.cpuArch || '(compiler default)'}`];
      if (info.build.cudaArchs)
        build.push(
          `CUDA ${info.build.cudaRuntime} for ${info.build.cudaArchs}`,
          `cuDNN headers ${info.build.cudnnHeaders}`,
        );
      process.stdout.write(`node ${process.version}, ${process.platform}-${process.arch}\n`);
      process.stdout.write(`addon: ${addonPath()} (${build.join(', ')})\n`);
      process.stdout.write(
        `cpu backend: available, ${info.cpuThreads} OpenMP threads, ${info.cpuIsa} kernels (this CPU runs ${info.cpuIsas.join(', ')}; INSALUN_CPU_ISA picks one)\n`,
      );
      if (!info.cudaBuilt) {
        process.stdout.write('cuda backend: not built into this addon (npm run build:cuda builds it; docs/gpu.md)\n');
      } else {
        process.stdout.write(`cuda backend: ${info.cuda ? 'available' : `not available (${info.cudaWhy})`}\n`);
        process.stdout.write(`${addon.cudaReport()}\n`);
      }
      process.stdout.write(`--device auto selects: ${resolveDevice('auto')}\n`);
    });
}

/** A --set value: true and false are booleans, numbers are numbers; other text is kept for the
 * method's schema to refuse by name (the method may come after --set on the command line). */
function hyperValue(text: string): number | boolean | string {
  if (text === 'true' || text === 'false') return text === 'true';
  return Number.isFinite(Number(text)) ? Number(text) : text;
}

/** --set key=value (repeatable, or comma-separated): hyperparameter overrides. */
export function collectHyper(value: string, previous: Record<string, unknown>): Record<string, unknown> {
  const out = { ...previous };
  for (const pair of value.split(',')) {
    const m = /^\s*([A-Za-z0-9_+-]+)\s*=\s*(\S+)\s*$/.exec(pair);
    if (!m) throw new InvalidArgumentError(`expected key=value, got '${pair}'`);
    out[m[1]] = hyperValue(m[2]);
  }
  return out;
}

/** The --set overrides, checked against the method's schema before any work is done. */
function checkedHyper(method: MethodName, overrides: Record<string, unknown>): HyperValues {
  const problem = hyperProblem(method, overrides);
  if (problem) throw new Error(`--set: ${problem}`);
  return overrides as HyperValues; // valid values are numbers and booleans
}

function addUnlearnCommand(program: Command): void {
  const defaults = METHOD_NAMES.map(
    (m) =>
      `  ${m}: ${Object.entries(METHOD_DEFAULTS[m])
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
  ).join('\n');
  program
    .command('unlearn')
    .description('unlearn a forget set from a trained checkpoint; writes the model and a JSON record')
    .requiredOption('--method <m>', METHOD_NAMES.join(' | '), choice(METHOD_NAMES))
    .requiredOption('--checkpoint <file>', 'the trained (original) model')
    .requiredOption('--forget <spec>', 'random:N | class:C | file:PATH')
    .option('--forget-seed <n>', 'seed of random forget sets', integer(0), DEFAULT_FORGET_SEED)
    .option('--mask <file>', 'a mask from insalun mask (SalUn = rl + grad mask, InSalUn = rl + ig mask)')
    .option(
      '--mask-mode <m>',
      'hard (masked weights frozen exactly) | grad (gradient masked, as the paper)',
      choice(['hard', 'grad'] as const),
      'hard',
    )
    .option(
      '--set <key=value>',
      'override a hyperparameter (repeatable), e.g. --set epochs=5 --set lr=0.02 --set augment=false',
      collectHyper,
      {},
    )
    .option('--seed <n>', 'seed of shuffling, augmentation and random labels', integer(0), 0)
    .option('--init <file>', "retrain: initial weights (default: the checkpoint directory's init.safetensors)")
    .option('--retrain-record <file>', 'a retrain record (JSON) to compute Avg. Gap against')
    .option('--relearn-steps <n>', 'relearning attack: SGD steps on a forget slice after unlearning', integer(0), 0)
    .option('--relearn-count <n>', 'relearning attack: forget images in the slice', integer(1), 100)
    .option('--relearn-lr <x>', 'relearning attack: learning rate', number(0), 0.01)
    .option('--all-mia', 'MIA with every feature, not only confidence', false)
    .option('--out <file>', 'unlearned checkpoint', 'runs/unlearned.safetensors')
    .option('--record <file>', 'JSON record (default: <out> with .json)')
    .option('--data-dir <dir>', 'override the data directory recorded in the checkpoint')
    .addOption(deviceOption())
    .addOption(precisionOption())
    .addOption(stepCaptureOption())
    .addHelpText('after', `\nHyperparameters and their defaults:\n${defaults}`)
    .action(async (o) => {
      const hyper = checkedHyper(o.method, o.set);
      using opened = await openCheckpoint(o.checkpoint, computeOptions(o), { dataDir: o.dataDir });
      const { model, meta, data } = opened;
      const view = selectForget(data, o.forget, o.forgetSeed);
      let retrainScores: UnlearningScores | undefined;
      if (o.retrainRecord) retrainScores = JSON.parse(await readFile(o.retrainRecord, 'utf8')).scores;
      const interrupt = stopOnInterruptLite(model);
      try {
        const record = await unlearnModel(
          model,
          data,
          view,
          {
            method: o.method as MethodName,
            maskPath: o.mask,
            maskMode: o.maskMode,
            hyper,
            seed: o.seed,
            initPath: o.init ?? join(dirname(o.checkpoint), 'init.safetensors'),
            recipe: meta.recipe as TrainRecipe | undefined,
            allMia: o.allMia,
            retrainScores,
          },
          terminalReporter(),
        );
        if (interrupt.interrupted) throw new Error('interrupted: nothing written');
        const recordPath = o.record ?? `${o.out.replace(/\.safetensors$/, '')}.json`;
        const relearn =
          o.relearnSteps > 0 ? { steps: o.relearnSteps, count: o.relearnCount, lr: o.relearnLr } : undefined;
        await saveUnlearned(model, meta, record, o.out, recordPath, data, view, relearn);
        const s = record.scores;
        process.stdout.write(
          `${o.method}${o.mask ? ' + mask' : ''}: UA ${s.UA.toFixed(2)}  RA ${s.RA.toFixed(2)}  TA ${s.TA.toFixed(2)}  MIA ${s.MIA.toFixed(2)}${record.avgGap === null ? '' : `  Avg.Gap ${record.avgGap.toFixed(2)}`}  RTE ${record.rteSeconds.toFixed(1)} s\n`,
        );
        if (record.relearn)
          process.stdout.write(
            `relearning attack, forget accuracy per step: ${record.relearn.forgetAccuracy.map((a) => a.toFixed(1)).join(' ')}\n`,
          );
        process.stdout.write(`wrote ${o.out} and ${recordPath}\n`);
      } finally {
        interrupt.release();
      }
    });
}

function addCompareCommand(program: Command): void {
  program
    .command('compare')
    .description(
      'run a whole experiment from a JSON config and print the table (also written as Markdown, CSV and JSON)',
    )
    .requiredOption(
      '--config <file>',
      'experiment config (JSON): dataset, forget, width, train, seeds, methods (see docs/configs.md)',
    )
    .option('--out <dir>', 'output directory (reused artifacts are kept here)')
    .addOption(deviceOption())
    .addOption(precisionOption())
    .addOption(stepCaptureOption())
    .action(async (o) => {
      let raw: unknown;
      try {
        raw = JSON.parse(await readFile(o.config, 'utf8'));
      } catch (error) {
        throw new Error(`${o.config}: ${(error as Error).message}`);
      }
      const config = parseCompareConfig(raw, o.config);
      // With a tuning block, the rows are chosen on a validation forget set first (tuning.ts).
      const result = await runTunedCompare(
        config,
        o.out ?? join('runs', config.name.replace(/[^A-Za-z0-9_.-]+/g, '_')),
        computeOptions(o),
        terminalReporter(),
      );
      process.stdout.write(`${result.text}\n`);
    });
}

function addPairedCommand(program: Command): void {
  program
    .command('paired')
    .description(
      "paired comparison over seeds of a compare output folder: each row's Avg. Gap minus the reference row's, mean with a 95% bootstrap interval and a sign test",
    )
    .argument('<dir>', 'a compare output folder (results.json)')
    .option(
      '--reference <name>',
      'the reference row (tuned rows pair with the reference row of the same rule)',
      'SalUn',
    )
    .option('--rows <regex>', 'the rows to compare with it', 'InSalUn')
    .option('--resamples <n>', 'bootstrap resamples', integer(100), 10000)
    .option('--seed <n>', 'bootstrap seed', integer(0), 0)
    .action(async (dir: string, o) => {
      let rows: RegExp;
      try {
        rows = new RegExp(o.rows);
      } catch (error) {
        throw new Error(`--rows: ${(error as Error).message}`);
      }
      const comparisons = pairedComparisons(await readCompareRows(dir), { ...o, rows });
      if (!comparisons.length) throw new Error(`no row matching /${o.rows}/ shares a seed with ${o.reference}`);
      const table = pairedTable(comparisons);
      const title = `Avg. Gap, row minus ${o.reference}, paired by seed (negative: closer to Retrain)`;
      await writeFileAtomic(join(dir, 'paired.md'), `# ${title}\n\n${toMarkdown(table.columns, table.rows)}\n`);
      await writeJsonAtomic(join(dir, 'paired.json'), {
        reference: o.reference,
        resamples: o.resamples,
        seed: o.seed,
        comparisons,
      });
      process.stdout.write(`${title}\n${renderTable(table.columns, table.rows)}\n`);
    });
}

function addDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'the main job on the built-in synthetic data: original, retrain, FT, RL, GA, SalUn and InSalUn, and the table',
    )
    .addOption(deviceOption())
    .addOption(precisionOption())
    .addOption(stepCaptureOption())
    .action(async (o) => {
      const started = performance.now();
      const out = join('runs', 'demo');
      const result = await runCompare(DEMO_CONFIG, out, computeOptions(o), terminalReporter());
      process.stdout.write(`\n${result.text}\n`);
      process.stdout.write(
        `UA = 100 - forget accuracy; unlearning works when UA, RA, TA and MIA approach Retrain's (small Avg. Gap).\n`,
      );
      process.stdout.write(
        `finished in ${((performance.now() - started) / 1000).toFixed(0)} s; models, masks and records in ${out}/ (delete it to recompute)\n`,
      );
    });
}

export function registerUnlearningCommands(program: Command): void {
  addBenchCommand(program);
  addCompareCommand(program);
  addDemoCommand(program);
  addMaskCommand(program);
  addPairedCommand(program);
  addUnlearnCommand(program);
  addDoctorCommand(program);
}
