// The default x86-64 build targets x86-64-v3 (AVX2, FMA). On a CPU without them the addon's first
// such instruction would end the process with SIGILL; the loader refuses it first with one clear
// error. A fake cpuinfo (INSALUN_CPUINFO) stands in for an older CPU.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { loadAddon } from '../../src/native/index.js';
import { buildDist, cliEntry } from '../helpers/compiled.js';

const arch = process.platform === 'linux' && process.arch === 'x64' ? loadAddon().backends().build?.cpuArch : undefined;
const skipWhy =
  arch === 'x86-64-v3'
    ? ''
    : ` (skipped: needs x86-64 Linux and the default x86-64-v3 build, this is ${arch ?? process.arch})`;

function doctorWithFlags(flags: string) {
  const cpuinfo = join(mkdtempSync(join(tmpdir(), 'insalun-cpuinfo-')), 'cpuinfo');
  writeFileSync(cpuinfo, `processor\t: 0\nmodel name\t: an older CPU\nflags\t\t: ${flags}\n\n`);
  const env = { ...process.env, INSALUN_CPUINFO: cpuinfo };
  delete env.INSALUN_ADDON;
  return spawnSync(process.execPath, [cliEntry, 'doctor'], { env, encoding: 'utf8' });
}

beforeAll(buildDist, 120_000);

it.skipIf(skipWhy !== '')(`a CPU without AVX2 gets one clear error, not a crash${skipWhy}`, () => {
  const r = doctorWithFlags('fpu sse sse2 ssse3 sse4_1 sse4_2 popcnt avx');
  expect(r.signal).toBeNull();
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(
    /this CPU has no AVX2\/FMA, which this build \(for x86-64-v3\) needs; rebuild it for this CPU: INSALUN_CPU_ARCH=native/,
  );
  expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(3);
});

it.skipIf(skipWhy !== '')(`a CPU with AVX2 and FMA loads it${skipWhy}`, () => {
  const r = doctorWithFlags('fpu sse sse2 avx avx2 fma bmi2');
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/cpu backend: available/);
});
