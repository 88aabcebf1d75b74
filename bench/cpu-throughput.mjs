// CPU throughput of the ResNet-18 training step and of evaluation, side by side with PyTorch on the
// same cores in the same run when a Python with torch is found (INSALUN_TORCH_PYTHON, else python3).
// Usage: node bench/cpu-throughput.mjs [--quick]
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { loadAddon } from '../dist/native/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const threads = loadAddon().backends().cpuThreads;
const configs = [
  { width: 64, batch: 64, evalBatch: 256, steps: quick ? 2 : 4, threads },
  { width: 16, batch: 64, evalBatch: 256, steps: quick ? 4 : 12, threads },
];

async function measureOurs({ width, batch, evalBatch, steps }) {
  const { Model, Dataset } = loadAddon();
  const n = Math.max(batch * (steps + 1), evalBatch);
  let seed = 1;
  const images = Uint8Array.from({ length: n * 3 * 32 * 32 }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24));
  const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
  const data = new Dataset('cpu', images, labels, { n, c: 3, h: 32, w: 32 }, [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]);
  const model = new Model({ classes: 10, inChannels: 3, width, device: 'cpu' });
  const sgd = { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 };
  const all = Int32Array.from({ length: n }, (_, i) => i);
  await model.trainEpoch(data, { indices: all.subarray(0, batch), batchSize: batch, augment: true, seed: 0, epoch: 0, sgd }); // warm-up
  let start = performance.now();
  await model.trainEpoch(data, { indices: all.subarray(batch, batch * (steps + 1)), batchSize: batch, augment: true, seed: 0, epoch: 1, sgd });
  const train = (steps * batch) / ((performance.now() - start) / 1000);
  await model.predict(data, all.subarray(0, evalBatch), evalBatch);
  start = performance.now();
  await model.predict(data, all.subarray(0, evalBatch), evalBatch);
  const evaluation = evalBatch / ((performance.now() - start) / 1000);
  return { train, eval: evaluation };
}

function measureTorch() {
  const python = process.env.INSALUN_TORCH_PYTHON ?? 'python3';
  const r = spawnSync(python, [join(here, 'torch_cpu_peer.py'), JSON.stringify(configs)], { encoding: 'utf8' });
  if (r.status !== 0) return { why: `no PyTorch peer (${python}: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()})` };
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const ours = [];
for (const c of configs) ours.push(await measureOurs(c));
const peer = measureTorch();
const table = new Table({ style: { head: [], border: [] }, head: ['width', 'batch', 'insalun train img/s', 'torch train img/s', 'ratio', 'insalun eval img/s', 'torch eval img/s', 'ratio'] });
configs.forEach((c, i) => {
  const t = peer.results?.[i];
  const f = (v) => (v === undefined ? '-' : v.toFixed(1));
  table.push([c.width, `${c.batch} / eval ${c.evalBatch}`, f(ours[i].train), f(t?.train), t ? (ours[i].train / t.train).toFixed(2) : '-', f(ours[i].eval), f(t?.eval), t ? (ours[i].eval / t.eval).toFixed(2) : '-']);
});
console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'}, ${threads} threads; PyTorch: ${peer.torch ?? peer.why}`);
console.log(table.toString());
