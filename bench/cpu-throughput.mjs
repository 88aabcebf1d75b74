// CPU throughput of the ResNet-18 training step and of evaluation, side by side with PyTorch on the
// same cores in the same run when a Python with torch is found (INSALUN_TORCH_PYTHON, else python3).
// The CPU backend's kernels run one instruction set per process (INSALUN_CPU_ISA, native/cpu/isa.h),
// so each set this CPU runs is measured in a child process of its own, beside a PyTorch restricted to
// the same set (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA). Each round measures every set, ours then
// PyTorch's; the table gives the median over the rounds, so that a burst of load on a shared machine
// moves one round, not the figure.
// Usage: node bench/cpu-throughput.mjs [--quick] [--isa avx2,avx512] [--rounds N]
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { measureThroughput } from '../dist/bench/throughput.js';
import { loadAddon } from '../dist/native/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const argument = (name) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const quick = process.argv.includes('--quick');
const backends = loadAddon().backends();
const threads = backends.cpuThreads;
const configs = [
  { width: 64, batch: 64, evalBatch: 256, steps: quick ? 2 : 4, threads },
  { width: 16, batch: 64, evalBatch: 256, steps: quick ? 4 : 12, threads },
];
// PyTorch's names for the same instruction sets (generic: its defaults).
const torchIsa = {
  avx2: { ATEN_CPU_CAPABILITY: 'avx2', ONEDNN_MAX_CPU_ISA: 'AVX2' },
  avx512: { ATEN_CPU_CAPABILITY: 'avx512', ONEDNN_MAX_CPU_ISA: 'AVX512_CORE' },
  generic: {},
};

async function measureOurs({ width, batch, evalBatch, steps }) {
  const rows = await measureThroughput({
    device: 'cpu',
    precision: 'fp32',
    stepCapture: false,
    width,
    trainBatches: [batch],
    trainSteps: steps,
    evalBatch,
    evalImages: evalBatch,
    igImages: 0,
    igPoints: 0,
    igBatch: 1,
  });
  return { train: rows[0].imagesPerSecond, eval: rows[1].imagesPerSecond };
}

// The child: our figures for every config under this process's instruction set, as one JSON line.
if (process.argv.includes('--ours-only')) {
  const results = [];
  for (const c of configs) results.push(await measureOurs(c));
  console.log(JSON.stringify({ isa: backends.cpuIsa, results }));
  process.exit(0);
}

function lastJsonLine(r, what) {
  if (r.status !== 0) return { why: `${what} (${(r.stderr || r.error?.message || '').trim().split('\n').pop()})` };
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function measureOursWith(isa) {
  const args = [fileURLToPath(import.meta.url), '--ours-only', ...(quick ? ['--quick'] : [])];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, INSALUN_CPU_ISA: isa } });
  const out = lastJsonLine(r, `insalun with INSALUN_CPU_ISA=${isa} failed`);
  if (out.why) throw new Error(out.why);
  return out;
}

function measureTorch(isa) {
  const python = process.env.INSALUN_TORCH_PYTHON ?? 'python3';
  const r = spawnSync(python, [join(here, 'torch_cpu_peer.py'), JSON.stringify(configs)], {
    encoding: 'utf8',
    env: { ...process.env, ...torchIsa[isa] },
  });
  return lastJsonLine(r, `no PyTorch peer: ${python}`);
}

const median = (values) => {
  const v = values.filter((x) => x !== undefined).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

const isas = (argument('--isa')?.split(',') ?? backends.cpuIsas).filter(Boolean);
for (const isa of isas)
  if (!backends.cpuIsas.includes(isa))
    throw new Error(`--isa ${isa}: this CPU runs ${backends.cpuIsas.join(', ')} (INSALUN_CPU_ISA values)`);
const rounds = Number(argument('--rounds') ?? (quick ? 1 : 3));
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: expected a positive integer, got ${rounds}`);

const samples = Object.fromEntries(isas.map((isa) => [isa, { ours: [], torch: [] }]));
let peerVersion, peerWhy;
for (let round = 0; round < rounds; round++)
  for (const isa of isas) {
    samples[isa].ours.push(measureOursWith(isa).results);
    const peer = measureTorch(isa);
    if (peer.results) samples[isa].torch.push(peer.results);
    peerVersion ??= peer.torch;
    peerWhy ??= peer.why;
  }

const table = new Table({
  style: { head: [], border: [] },
  head: [
    'isa',
    'width',
    'batch',
    'insalun train img/s',
    'torch train img/s',
    'ratio',
    'insalun eval img/s',
    'torch eval img/s',
    'ratio',
  ],
});
const f = (v) => (v === undefined ? '-' : v.toFixed(1));
const ratio = (a, b) => (a === undefined || b === undefined ? '-' : (a / b).toFixed(2));
for (const isa of isas)
  configs.forEach((c, i) => {
    const pick = (list, key) => median(list.map((r) => r[i]?.[key]));
    const ours = { train: pick(samples[isa].ours, 'train'), eval: pick(samples[isa].ours, 'eval') };
    const torch = { train: pick(samples[isa].torch, 'train'), eval: pick(samples[isa].torch, 'eval') };
    table.push([
      isa,
      c.width,
      `${c.batch} / eval ${c.evalBatch}`,
      f(ours.train),
      f(torch.train),
      ratio(ours.train, torch.train),
      f(ours.eval),
      f(torch.eval),
      ratio(ours.eval, torch.eval),
    ]);
  });
console.log(
  `CPU: ${cpus()[0]?.model ?? 'unknown'}, ${threads} threads; PyTorch: ${peerVersion ?? peerWhy}; ` +
    `median of ${rounds} round${rounds > 1 ? 's' : ''} (isa: INSALUN_CPU_ISA, and PyTorch's ATEN_CPU_CAPABILITY / ONEDNN_MAX_CPU_ISA)`,
);
console.log(table.toString());
