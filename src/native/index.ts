// Loads the native addon (CPU build, or the CUDA build when `npm run build:cuda` made one) and
// explains what went wrong when it cannot.
import { readFileSync } from 'node:fs';
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
  let cpuProblem: string | undefined;
  try {
    path ??= nodeGypBuild.resolve(packageRoot);
    cpuProblem = cpuTooOldFor(path);
    if (!cpuProblem) {
      cached = require(path) as NativeAddon;
      cachedPath = path;
    }
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
  if (cpuProblem) throw new Error(`the insalun native addon ${path} cannot run here: ${cpuProblem}`);
  return cached as NativeAddon;
}

/** On x86-64 Linux, why this CPU cannot run the addon at `path`, if it cannot: the default build
 * targets x86-64-v3 (AVX2 and FMA), and on an older CPU its first such instruction would end the
 * process (SIGILL) instead of raising an error. A build made for this CPU (INSALUN_CPU_ARCH) loads.
 * INSALUN_CPUINFO names another cpuinfo file (for the test of this check). */
function cpuTooOldFor(path: string): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  let flags: Set<string>;
  try {
    const cpuinfo = readFileSync(process.env.INSALUN_CPUINFO ?? '/proc/cpuinfo', 'utf8');
    flags = new Set((cpuinfo.match(/^flags\s*:(.*)$/m)?.[1] ?? '').trim().split(/\s+/));
  } catch {
    return undefined; // nothing to go by: load it
  }
  if (flags.has('avx2') && flags.has('fma')) return undefined;
  // The build records its -march as a string (backends().build.cpuArch).
  if (!readFileSync(path).includes('\0x86-64-v3\0')) return undefined;
  return (
    'this CPU has no AVX2/FMA, which this build (for x86-64-v3) needs; rebuild it for this CPU: ' +
    'INSALUN_CPU_ARCH=native npm rebuild insalun (in a checkout: INSALUN_CPU_ARCH=native npm run build:native)'
  );
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
