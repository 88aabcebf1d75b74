// The per-kernel table of `insalun bench --kernels`: each piece of a ResNet-18 training step with
// its time, achieved rate, share of the device's measured best, and share of the step.
import { type Cell, renderTable, toMarkdown } from '../io/results.js';
import { type DeviceName, type KernelTimingRow, loadAddon, type Precision } from '../native/index.js';

export interface KernelBenchOptions {
  device: DeviceName;
  precision: Precision;
  batch: number;
  width: number;
  minSeconds?: number;
}

export interface KernelReportRow extends KernelTimingRow {
  /** FLOP/s for compute-bound rows (convolutions), bytes/s for the others. */
  rate: number;
  bound: 'compute' | 'memory';
  /** rate / the matching peak reference (the fastest arithmetic reference, or the device copy). */
  ofPeak: number;
  /** Whether this row is the reference its kind's shares are relative to. */
  isPeak: boolean;
  /** seconds * perStep / the sum of that over all rows: where a step's kernel time goes. */
  ofStep: number;
}

export interface KernelReport {
  options: KernelBenchOptions;
  rows: KernelReportRow[];
  peak: { flopsPerSecond: number; bytesPerSecond: number };
  /** Sum of seconds * perStep: a step's time if its kernels ran back to back with no overhead. */
  stepSeconds: number;
}

// The fastest reference row of a kind: the arithmetic ones are a multiply-add loop (CPU) and a
// large 1x1 convolution (every device); the memory one is a device copy.
function fastest(rows: KernelTimingRow[], compute: boolean): KernelTimingRow | undefined {
  const rate = (r: KernelTimingRow) => (compute ? r.flops : r.bytes) / r.seconds;
  return rows
    .filter((r) => r.group === 'peak' && r.flops > 0 === compute)
    .reduce<KernelTimingRow | undefined>((best, r) => (!best || rate(r) > rate(best) ? r : best), undefined);
}

export function kernelReport(options: KernelBenchOptions, raw: KernelTimingRow[]): KernelReport {
  const peakCompute = fastest(raw, true);
  const peakMemory = fastest(raw, false);
  if (!peakCompute || !peakMemory) throw new Error('kernel bench: the peak references are missing');
  const peak = {
    flopsPerSecond: peakCompute.flops / peakCompute.seconds,
    bytesPerSecond: peakMemory.bytes / peakMemory.seconds,
  };
  const stepSeconds = raw.reduce((sum, r) => sum + r.seconds * r.perStep, 0);
  const rows = raw.map((r): KernelReportRow => {
    const bound = r.flops > 0 ? 'compute' : 'memory';
    const rate = (bound === 'compute' ? r.flops : r.bytes) / r.seconds;
    return {
      ...r,
      rate,
      bound,
      ofPeak: rate / (bound === 'compute' ? peak.flopsPerSecond : peak.bytesPerSecond),
      isPeak: r === peakCompute || r === peakMemory,
      ofStep: stepSeconds > 0 ? (r.seconds * r.perStep) / stepSeconds : 0,
    };
  });
  return { options, rows, peak, stepSeconds };
}

export async function benchKernels(options: KernelBenchOptions): Promise<KernelReport> {
  const raw = await loadAddon().benchKernels(options.device, {
    batch: options.batch,
    width: options.width,
    precision: options.precision,
    minSeconds: options.minSeconds,
  });
  return kernelReport(options, raw);
}

function formatSeconds(s: number): string {
  return s >= 1e-3 ? `${(s * 1e3).toFixed(3)} ms` : `${(s * 1e6).toFixed(1)} us`;
}

function formatRate(r: KernelReportRow): string {
  return r.bound === 'compute'
    ? `${(r.rate / 1e12).toFixed(r.rate >= 1e12 ? 1 : 3)} TFLOP/s`
    : `${(r.rate / 1e9).toFixed(1)} GB/s`;
}

const COLUMNS = ['kernel', 'shape', 'per step', 'time', 'rate', 'of peak', 'of step'];

function cells(r: KernelReportRow): Cell[] {
  const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
  return [
    r.kernel,
    r.shape,
    r.perStep || '-',
    formatSeconds(r.seconds),
    formatRate(r),
    r.isPeak ? 'peak' : pct(r.ofPeak),
    r.perStep ? pct(r.ofStep) : '-',
  ];
}

function heading(report: KernelReport): string {
  const o = report.options;
  return (
    `ResNet-18 width ${o.width}, batch ${o.batch}, ${o.device} ${o.precision}${o.device === 'cpu' ? ` (${loadAddon().backends().cpuIsa} kernels; INSALUN_CPU_ISA picks another set)` : ''}: kernels of one training step. ` +
    `Peaks are this device's best measured here, not datasheet figures: a device copy for memory (cache-resident kernels can exceed it on a CPU), and for arithmetic a multiply-add loop in registers where the backend has one, else a large 1x1 convolution in this precision. ` +
    `Kernel time summed over a step: ${formatSeconds(report.stepSeconds)} (${(o.batch / report.stepSeconds).toFixed(0)} img/s if nothing else ran).`
  );
}

export function renderKernelReport(report: KernelReport): string {
  return `${heading(report)}\n${renderTable(COLUMNS, report.rows.map(cells))}`;
}

export function kernelReportMarkdown(report: KernelReport): string {
  return `${heading(report)}\n\n${toMarkdown(COLUMNS, report.rows.map(cells))}`;
}
