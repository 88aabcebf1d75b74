// CPU throughput of the ResNet-18 training step and of evaluation, side by side with PyTorch on the
// same cores in the same run when a Python with torch is found (INSALUN_TORCH_PYTHON, else python3).
// Usage: node bench/cpu-throughput.mjs [--quick]
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { measureThroughput } from '../dist/bench/throughput.js';
import { loadAddon } from '../dist/native/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const threads = loadAddon().backends().cpuThreads;
const configs = [
  { width: 64, batch: 64, evalBatch: 256, steps: quick ? 2 : 4, threads },
  { width: 16, batch: 64, evalBatch: 256, steps: quick ? 4 : 12, threads },
];

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

function measureTorch() {
  const python = process.env.INSALUN_TORCH_PYTHON ?? 'python3';
  const r = spawnSync(python, [join(here, 'torch_cpu_peer.py'), JSON.stringify(configs)], { encoding: 'utf8' });
  if (r.status !== 0)
    return { why: `no PyTorch peer (${python}: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()})` };
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const ours = [];
for (const c of configs) ours.push(await measureOurs(c));
const peer = measureTorch();
const table = new Table({
  style: { head: [], border: [] },
  head: [
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
configs.forEach((c, i) => {
  const t = peer.results?.[i];
  const f = (v) => (v === undefined ? '-' : v.toFixed(1));
  table.push([
    c.width,
    `${c.batch} / eval ${c.evalBatch}`,
    f(ours[i].train),
    f(t?.train),
    t ? (ours[i].train / t.train).toFixed(2) : '-',
    f(ours[i].eval),
    f(t?.eval),
    t ? (ours[i].eval / t.eval).toFixed(2) : '-',
  ]);
});
console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'}, ${threads} threads; PyTorch: ${peer.torch ?? peer.why}`);
console.log(table.toString());
