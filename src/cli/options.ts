// Option parsers shared by the commands: each rejects bad values with one clear message.
import { InvalidArgumentError, Option } from 'commander';
import { type ComputeSettings, type DeviceName, loadAddon, type Precision } from '../native/index.js';

export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer in [${min}, ${max}], got '${value}'`);
    return n;
  };
}

export function number(min: number, max = Infinity) {
  return (value: string): number => {
    const n = Number(value);
    const range = max === Infinity ? `a finite number of at least ${min}` : `a number in [${min}, ${max}]`;
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected ${range}, got '${value}'`);
    return n;
  };
}

export function numberList(min: number, max = Infinity) {
  const one = number(min, max);
  return (value: string): number[] =>
    value
      .split(',')
      .filter((s) => s.trim() !== '')
      .map((s) => one(s.trim()));
}

export function choice<T extends string>(values: readonly T[]) {
  return (value: string): T => {
    if (!(values as readonly string[]).includes(value))
      throw new InvalidArgumentError(`expected one of ${values.join(', ')}, got '${value}'`);
    return value as T;
  };
}

export const DEVICES = ['auto', 'cpu', 'cuda'] as const;
export type DeviceFlag = (typeof DEVICES)[number];
export const PRECISIONS = ['fp32', 'tf32', 'bf16'] as const satisfies readonly Precision[];

// --device, --precision and --no-step-capture: how the models of a command compute.
export const deviceOption = () =>
  new Option('--device <d>', 'auto | cpu | cuda').argParser(choice(DEVICES)).default('auto');
export const precisionOption = () =>
  new Option(
    '--precision <p>',
    'convolution arithmetic: fp32 (strict) | tf32 (CUDA tensor cores) | bf16 (CUDA: bf16 activations and convolutions, fp32 weights and statistics)',
  )
    .argParser(choice(PRECISIONS))
    .default('fp32');
export const stepCaptureOption = () =>
  new Option('--no-step-capture', 'CUDA: run every training step eagerly instead of replaying a captured graph');

/** The compute settings that --device, --precision and --no-step-capture ask for. */
export function computeOptions(o: { device: string; precision: string; stepCapture: boolean }): ComputeSettings {
  const device = resolveDevice(o.device as DeviceFlag);
  const precision = o.precision as Precision;
  if (device === 'cpu' && precision !== 'fp32')
    throw new Error(
      `--precision ${precision} needs the CUDA backend; the CPU backend computes in fp32 (device: ${o.device})`,
    );
  return { device, precision, stepCapture: o.stepCapture };
}

/** auto takes CUDA when the addon was built with it and a GPU answers (never the CPU emulation of
 * CUDA, a test build that only --device cuda asks for). */
export function resolveDevice(flag: DeviceFlag): DeviceName {
  if (flag === 'cpu') return 'cpu';
  const info = loadAddon().backends();
  if (flag === 'cuda') {
    if (!info.cuda) throw new Error(`--device cuda: ${info.cudaWhy}`);
    return 'cuda';
  }
  return info.cuda && !info.cudaEmulated ? 'cuda' : 'cpu';
}
