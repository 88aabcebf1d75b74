// `insalun bench`: throughput of training, evaluation and IG (CPU: side by side with PyTorch on
// the same cores), and with --kernels the per-kernel table of one training step.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Command } from 'commander';
import { benchKernels, kernelReportMarkdown, renderKernelReport } from '../bench/kernels.js';
import { measureThroughput } from '../bench/throughput.js';
import { writeFileAtomic } from '../io/atomic.js';
import { renderTable } from '../io/results.js';
import { loadAddon, packageRoot } from '../native/index.js';
import { computeOptions, deviceOption, integer, number, precisionOption, stepCaptureOption } from './options.js';

export function addBenchCommand(program: Command): void {
  program
    .command('bench')
    .description(
      'throughput of training, evaluation and IG masks (CPU: side by side with PyTorch when a Python with torch is found, INSALUN_TORCH_PYTHON); ' +
        'with --kernels, each kernel of a training step with its time, rate and share of the device peak',
    )
    .option('--kernels', 'the per-kernel table instead of throughput', false)
    .option('--width <w>', 'ResNet-18 base width', integer(1), 64)
    .option('--batch-size <n>', 'kernels: batch size (default 256 on CUDA, 64 on the CPU)', integer(1))
    .option('--min-seconds <s>', 'kernels: how long each kernel is repeated', number(0.001, 60), 0.05)
    .option('--quick', 'throughput: fewer steps', false)
    .option(
      '--isa <sets>',
      'CPU throughput: the instruction sets to measure, comma-separated (default: every one this CPU runs, avx2 and avx512)',
    )
    .option(
      '--rounds <n>',
      'CPU throughput: rounds, the table giving their median (default 3, 1 with --quick)',
      integer(1),
    )
    .option('--json', 'print JSON instead of a table', false)
    .option('--markdown <file>', 'kernels: also write the table as Markdown')
    .addOption(deviceOption())
    .addOption(precisionOption())
    .addOption(stepCaptureOption())
    .action(async (o) => {
      const { device, precision, stepCapture } = computeOptions(o);
      if (device === 'cuda' && loadAddon().backends().cudaEmulated)
        throw new Error(
          'bench --device cuda: this addon runs the CUDA backend over the CPU emulation of CUDA (a test build, INSALUN_ADDON); its timings say nothing about a GPU',
        );
      if (o.kernels) {
        const batch = o.batchSize ?? (device === 'cuda' ? 256 : 64);
        const report = await benchKernels({ device, precision, batch, width: o.width, minSeconds: o.minSeconds });
        process.stdout.write(o.json ? `${JSON.stringify(report)}\n` : `${renderKernelReport(report)}\n`);
        if (o.markdown) await writeFileAtomic(o.markdown, kernelReportMarkdown(report));
        return;
      }
      if (device === 'cpu') {
        // The CPU comparison runs PyTorch beside us on the same cores (bench/cpu-throughput.mjs).
        const script = join(packageRoot, 'bench', 'cpu-throughput.mjs');
        const args = [
          ...(o.quick ? ['--quick'] : []),
          ...(o.isa ? ['--isa', o.isa] : []),
          ...(o.rounds ? ['--rounds', String(o.rounds)] : []),
        ];
        const r = spawnSync(process.execPath, [script, ...args], { stdio: 'inherit' });
        if (r.status !== 0) throw new Error(`benchmark failed (${script})`);
        return;
      }
      const rows = await measureThroughput({
        device,
        precision,
        stepCapture,
        width: o.width,
        trainBatches: [128, 256, 512],
        trainSteps: o.quick ? 5 : 30,
        evalBatch: 1024,
        evalImages: o.quick ? 4096 : 10240,
        igImages: o.quick ? 0 : 4500,
        igPoints: 8,
        igBatch: 256,
      });
      if (o.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
      else
        process.stdout.write(
          `${renderTable(
            ['work', 'seconds', 'img/s'],
            rows.map((r) => [r.work, r.seconds.toFixed(3), r.imagesPerSecond.toFixed(0)]),
          )}\n`,
        );
    });
}
