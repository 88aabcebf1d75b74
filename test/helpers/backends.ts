// One place that decides which backends the conformance suites run on. CPU always; CUDA when the
// addon was built with it and a device answers (otherwise the CUDA suite is skipped, saying why).
import { describe, it } from 'vitest';
import { seededRandom } from '../../src/bench/numerics.js';
import { type DeviceName, loadAddon } from '../../src/native/index.js';

export const addon = loadAddon();
const info = addon.backends();

/** The CPU's cases say which instruction set its kernels run (INSALUN_CPU_ISA; test/native/cpu-isa.test.ts). */
export const deviceCases: { device: DeviceName; available: boolean; why: string; label?: string }[] = [
  { device: 'cpu', available: true, why: '', label: `cpu ${info.cpuIsa}` },
  { device: 'cuda', available: info.cuda, why: info.cudaWhy },
];

/** describe() once per backend; an unavailable backend's block is skipped with the reason in its title. */
export function describeEachBackend(title: string, body: (device: DeviceName) => void): void {
  for (const c of deviceCases) {
    if (c.available) describe(`${title} [${c.label ?? c.device}]`, () => body(c.device));
    else describe.skip(`${title} [${c.device}: skipped, ${c.why}]`, () => it('needs the backend', () => {}));
  }
}

/** A seeded generator for test data: reproducible failures. */
export const testRandom = seededRandom;

export function randomArray(n: number, rand: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() * 2 - 1) * scale;
  return out;
}

/** Largest |a-b| / (atol + rtol*|b|) over the arrays: <= 1 means within tolerance. */
export function maxViolation(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i] - b[i]) / (atol + rtol * Math.abs(b[i]));
    if (!(v <= worst)) worst = Number.isNaN(v) ? Infinity : Math.max(worst, v);
  }
  return worst;
}

/** Largest |x| (a loop: spreading a parameter vector into Math.max overflows the call stack). */
export function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}
