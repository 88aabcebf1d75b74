// Option parsers shared by the commands: each rejects bad values with one clear message.
import { InvalidArgumentError } from 'commander';
import { loadAddon, type DeviceName } from '../native/index.js';

export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) throw new InvalidArgumentError(`expected an integer in [${min}, ${max}], got '${value}'`);
    return n;
  };
}

export function number(min: number, max = Infinity) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected a number in [${min}, ${max}], got '${value}'`);
    return n;
  };
}

export function numberList(min: number, max = Infinity) {
  const one = number(min, max);
  return (value: string): number[] => value.split(',').filter((s) => s.trim() !== '').map((s) => one(s.trim()));
}

export function choice<T extends string>(values: readonly T[]) {
  return (value: string): T => {
    if (!(values as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}, got '${value}'`);
    return value as T;
  };
}

export type DeviceFlag = 'auto' | 'cpu' | 'cuda';

/** auto takes CUDA when the addon was built with it and a device answers. */
export function resolveDevice(flag: DeviceFlag): DeviceName {
  if (flag === 'cpu') return 'cpu';
  const info = loadAddon().backends();
  if (flag === 'cuda') {
    if (!info.cuda) throw new Error(`--device cuda: ${info.cudaWhy}`);
    return 'cuda';
  }
  return info.cuda ? 'cuda' : 'cpu';
}
