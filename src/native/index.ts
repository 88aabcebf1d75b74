// Loads the native addon (CPU build, or the CUDA build when `npm run build:cuda` made one) and
// explains what went wrong when it cannot.
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeviceName, NativeAddon, Precision } from './types.js';

export * from './types.js';

const require = createRequire(import.meta.url);
// src/native or dist/native -> the package root
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

let cached: NativeAddon | undefined;

/** The addon: build/Release (or a prebuild) as node-gyp-build finds it, or the file that the
 * INSALUN_ADDON environment variable names (another build, e.g. the CUDA emulation's). */
export function loadAddon(): NativeAddon {
  if (cached) return cached;
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
  const chosen = process.env.INSALUN_ADDON;
  try {
    cached = (chosen ? require(resolve(chosen)) : nodeGypBuild(packageRoot)) as NativeAddon;
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(
      `the insalun native addon${chosen ? ` ${chosen} (INSALUN_ADDON)` : ''} could not be loaded (${why}).\n` +
        'Build it with `npm install` (CPU) or `npm run build:cuda` (CUDA), and check that a C++17 compiler with OpenMP is available.',
    );
  }
  return cached;
}

/** How this run's models compute beyond the device: set once (the CLI's --precision and
 * --no-step-capture), read by every model created afterwards, copies and shadows included. */
export interface ComputeSettings {
  precision: Precision;
  stepCapture: boolean;
}

let settings: ComputeSettings = { precision: 'fp32', stepCapture: true };

export function setComputeSettings(next: Partial<ComputeSettings>): void {
  settings = { ...settings, ...next };
}

export function computeSettings(): ComputeSettings {
  return { ...settings };
}

/** What a record says about where and how it was computed. */
export type ComputeRecord = { device: DeviceName } & ComputeSettings;

export function computeRecord(device: DeviceName): ComputeRecord {
  return { device, ...settings };
}
