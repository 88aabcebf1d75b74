// Loads the native addon (CPU build, or the CUDA build when `npm run build:cuda` made one) and
// explains what went wrong when it cannot.
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeviceName, NativeAddon, NativeModel, Precision } from './types.js';

export * from './types.js';

const require = createRequire(import.meta.url);
// src/native or dist/native -> the package root
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

let cached: NativeAddon | undefined;
let cachedPath: string | undefined;

/** The addon: build/Release (or a prebuild) as node-gyp-build finds it, or the file that the
 * INSALUN_ADDON environment variable names (another build, e.g. the CUDA emulation's or a CUDA build
 * shared by a lab). A CUDA build loads without cuDNN or a GPU (it loads cuDNN when a CUDA backend is
 * first asked for), so a load failure is about the file itself or the C++ runtime. */
export function loadAddon(): NativeAddon {
  if (cached) return cached;
  const nodeGypBuild = require('node-gyp-build') as { (dir: string): unknown; resolve(dir: string): string };
  const chosen = process.env.INSALUN_ADDON;
  let path = chosen ? resolve(chosen) : undefined;
  try {
    path ??= nodeGypBuild.resolve(packageRoot);
    cached = require(path) as NativeAddon;
    cachedPath = path;
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    const missingLibrary = /cannot open shared object file/.test(why);
    throw new Error(
      `the insalun native addon ${path ?? `(none found under ${packageRoot})`}${chosen ? ' (INSALUN_ADDON)' : ''} could not be loaded (${why}).\n` +
        (missingLibrary
          ? 'A shared library it was linked against is missing on this machine; rebuild the CPU addon with `npm rebuild insalun` (or `npx node-gyp rebuild` in the package), or point INSALUN_ADDON at a build made for this machine.'
          : 'Build it with `npm install` (CPU) or `npm run build:cuda` (CUDA); the CPU build needs a C++17 compiler, and OpenMP for more than one thread.'),
    );
  }
  return cached;
}

/** The file loadAddon() loaded (after a successful loadAddon()). */
export function addonPath(): string | undefined {
  return cachedPath;
}

/** Where and how a model computes: its device, its convolution arithmetic and whether its CUDA
 * steps are captured as graphs. A value, not process state: whatever creates a model is given one
 * (the CLI builds it from --device, --precision and --no-step-capture), so two models of one
 * process may compute differently. Records store it as `compute`. */
export interface ComputeSettings {
  device: DeviceName;
  precision: Precision;
  stepCapture: boolean;
}

/** The settings a command gets without flags: strict fp32, captured steps. */
export function defaultCompute(device: DeviceName): ComputeSettings {
  return { device, precision: 'fp32', stepCapture: true };
}

/** The settings a model was made with (its copies and shadows compute the same way). stepCapture
 * is what the backend does: false on the CPU, which has nothing to capture. */
export function computeOf(model: NativeModel): ComputeSettings {
  return { device: model.device, precision: model.precision, stepCapture: model.stepCapture };
}
