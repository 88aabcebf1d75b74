// The GPU-machine check, prepared to run in one go (see scripts/device-check.sh): the CUDA backend
// against the CPU backend op by op, a ResNet-18 training run and integrated-gradient masks on both,
// then CUDA throughput of the training step, evaluation and IG. Needs only the built addon and
// dist/ (no dev dependencies). Prints tables and writes JSON to $OUT (or the current directory).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAddon } from '../dist/native/index.js';
import { igSaliency } from '../dist/masks/saliency.js';
import { topkMask } from '../dist/masks/topk.js';

const addon = loadAddon();
const info = addon.backends();
console.log(JSON.stringify(info, null, 1));
if (!info.cuda) {
  console.error(`no CUDA backend: ${info.cudaWhy}`);
  process.exit(1);
}
const results = { info, parity: [], throughput: [] };

let seed = 12345;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
const randomArray = (n, scale = 1) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
function maxRelative(a, b) {
  let worst = 0, scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (scale || 1));
  return worst;
}
function check(name, a, b, tolerance) {
  const error = maxRelative(a, b);
  const ok = error <= tolerance;
  results.parity.push({ name, error, tolerance, ok });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name.padEnd(48)} max error / max |cpu| = ${error.toExponential(2)} (tolerance ${tolerance})`);
}

// ---- op by op ----------------------------------------------------------------------------------
const cpu = addon.ops('cpu'), gpu = addon.ops('cuda');
for (const s of [
  { n: 8, cin: 3, h: 32, w: 32, cout: 64, k: 3, stride: 1, pad: 1 },
  { n: 8, cin: 64, h: 32, w: 32, cout: 128, k: 3, stride: 2, pad: 1 },
  { n: 8, cin: 64, h: 32, w: 32, cout: 128, k: 1, stride: 2, pad: 0 },
  { n: 8, cin: 256, h: 8, w: 8, cout: 256, k: 3, stride: 1, pad: 1 },
  { n: 3, cin: 5, h: 7, w: 7, cout: 6, k: 3, stride: 2, pad: 1 },
]) {
  const label = `${s.cin}->${s.cout} ${s.h}x${s.w} k${s.k} s${s.stride}`;
  const ho = Math.floor((s.h + 2 * s.pad - s.k) / s.stride) + 1;
  const x = randomArray(s.n * s.cin * s.h * s.w), w = randomArray(s.cout * s.cin * s.k * s.k, 0.1), dy = randomArray(s.n * s.cout * ho * ho);
  check(`conv fwd ${label}`, gpu.conv2dForward(s, x, w), cpu.conv2dForward(s, x, w), 1e-5);
  check(`conv bwd data ${label}`, gpu.conv2dBackwardData(s, dy, w), cpu.conv2dBackwardData(s, dy, w), 1e-5);
  check(`conv bwd filter ${label}`, gpu.conv2dBackwardFilter(s, x, dy), cpu.conv2dBackwardFilter(s, x, dy), 1e-5);
}
{
  const s = { n: 16, c: 32, hw: 64 };
  const x = randomArray(s.n * s.c * s.hw, 2), g = randomArray(s.c), b = randomArray(s.c), rm = randomArray(s.c, 0.3), rv = Float32Array.from(randomArray(s.c), (v) => 1 + Math.abs(v)), dy = randomArray(x.length);
  for (const train of [true, false]) {
    const fc = cpu.bnForward(s, x, g, b, rm, rv, { train, momentum: 0.1, eps: 1e-5 }), fg = gpu.bnForward(s, x, g, b, rm, rv, { train, momentum: 0.1, eps: 1e-5 });
    check(`bn ${train ? 'train' : 'eval'} forward`, fg.y, fc.y, 1e-5);
    check(`bn ${train ? 'train' : 'eval'} running var`, fg.runningVar, fc.runningVar, 1e-6);
    const bc = cpu.bnBackward(s, x, dy, g, fc.saveMean, fc.saveInvstd, train), bg = gpu.bnBackward(s, x, dy, g, fg.saveMean, fg.saveInvstd, train);
    check(`bn ${train ? 'train' : 'eval'} backward dx`, bg.dx, bc.dx, 1e-5);
    check(`bn ${train ? 'train' : 'eval'} backward dgamma`, bg.dgamma, bc.dgamma, 1e-5);
  }
  check('avgpool forward', gpu.avgpoolForward(s, x), cpu.avgpoolForward(s, x), 1e-6);
  const lx = randomArray(64 * 512), lw = randomArray(10 * 512, 0.05), lb = randomArray(10), ldy = randomArray(640);
  check('linear forward', gpu.linearForward({ n: 64, in: 512, out: 10 }, lx, lw, lb), cpu.linearForward({ n: 64, in: 512, out: 10 }, lx, lw, lb), 1e-5);
  check('linear backward dw', gpu.linearBackward({ n: 64, in: 512, out: 10 }, lx, lw, ldy).dw, cpu.linearBackward({ n: 64, in: 512, out: 10 }, lx, lw, ldy).dw, 1e-5);
  const logits = randomArray(640, 4), labels = Int32Array.from({ length: 64 }, (_, i) => i % 10);
  check('softmax xent dlogits', gpu.softmaxXent(64, 10, logits, labels, 1).dlogits, cpu.softmaxXent(64, 10, logits, labels, 1).dlogits, 1e-6);
  const images = Uint8Array.from({ length: 32 * 3 * 1024 }, () => Math.floor(rand() * 256)), il = Int32Array.from({ length: 32 }, (_, i) => i % 10);
  const mean = Float32Array.from([0.49, 0.48, 0.45]), std = Float32Array.from([0.25, 0.24, 0.26]), idx = Int32Array.from({ length: 32 }, (_, i) => (i * 7) % 32);
  const opts = { augment: true, seed: 9, epoch: 3 };
  check('gather batch (crop + flip + normalize)', gpu.gatherBatch(images, il, { n: 32, c: 3, h: 32, w: 32 }, mean, std, idx, opts).x, cpu.gatherBatch(images, il, { n: 32, c: 3, h: 32, w: 32 }, mean, std, idx, opts).x, 1e-6);
  const w = randomArray(100000), gr = randomArray(100000), buf = randomArray(100000), mask = Float32Array.from({ length: 100000 }, (_, i) => i % 2);
  for (const maskMode of ['none', 'grad', 'hard']) {
    const o = { lr: 0.1, momentum: 0.9, weightDecay: 5e-4, maskMode, firstStep: false };
    check(`sgd step (${maskMode})`, gpu.sgdStep(o, w, gr, buf, mask).w, cpu.sgdStep(o, w, gr, buf, mask).w, 1e-6);
  }
}

// ---- whole model ---------------------------------------------------------------------------------
function pairOfModels(width, n) {
  const images = Uint8Array.from({ length: n * 3 * 1024 }, () => Math.floor(rand() * 256));
  const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
  const make = (device) => {
    const data = new addon.Dataset(device, images, labels, { n, c: 3, h: 32, w: 32 }, [0.49, 0.48, 0.45], [0.25, 0.24, 0.26]);
    const model = new addon.Model({ classes: 10, inChannels: 3, width, device });
    model.initialize(7);
    return { data, model };
  };
  return { c: make('cpu'), g: make('cuda'), indices: Int32Array.from({ length: n }, (_, i) => i) };
}
{
  const { c, g, indices } = pairOfModels(64, 256);
  check('resnet18 eval logits (width 64)', await g.model.predict(g.data, indices, 128), await c.model.predict(c.data, indices, 128), 1e-4);
  const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };
  for (const m of [c, g]) await m.model.trainEpoch(m.data, { indices, batchSize: 64, augment: true, seed: 1, epoch: 0, sgd });
  check('resnet18 weights after 4 SGD steps', g.model.getParameters(), c.model.getParameters(), 1e-4);
  const forget = indices.subarray(0, 64);
  const base = new Float32Array(c.model.parameterCount);
  const ic = await igSaliency(c.model, c.data, forget, { baseline: base, rule: 'middle', steps: 4, batchSize: 64 });
  const ig = await igSaliency(g.model, g.data, forget, { baseline: base, rule: 'middle', steps: 4, batchSize: 64 });
  const mc = topkMask(ic.saliency, 0.5), mg = topkMask(ig.saliency, 0.5);
  let same = 0;
  for (let i = 0; i < mc.length; i++) same += mc[i] === mg[i];
  const agreement = same / mc.length;
  results.parity.push({ name: 'IG top-50% mask agreement', agreement, ok: agreement > 0.99 });
  console.log(`${agreement > 0.99 ? 'ok  ' : 'FAIL'} IG top-50% masks agree on ${(100 * agreement).toFixed(3)}% of weights`);
}

// ---- throughput ------------------------------------------------------------------------------------
async function throughput() {
  const n = 4608;
  const images = Uint8Array.from({ length: n * 3 * 1024 }, () => Math.floor(rand() * 256));
  const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
  const data = new addon.Dataset('cuda', images, labels, { n, c: 3, h: 32, w: 32 }, [0.49, 0.48, 0.45], [0.25, 0.24, 0.26]);
  const model = new addon.Model({ classes: 10, inChannels: 3, width: 64, device: 'cuda' });
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const sgd = { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 };
  const row = (work, seconds, images) => {
    results.throughput.push({ work, seconds, imagesPerSecond: images / seconds });
    console.log(`${work.padEnd(44)} ${(seconds * 1000).toFixed(1).padStart(9)} ms ${(images / seconds).toFixed(0).padStart(10)} img/s`);
  };
  for (const batch of [128, 256, 512]) {
    const steps = Math.floor(n / batch);
    await model.trainEpoch(data, { indices: all.subarray(0, batch * 2), batchSize: batch, augment: true, seed: 0, epoch: 0, sgd });
    const t = performance.now();
    await model.trainEpoch(data, { indices: all.subarray(0, batch * steps), batchSize: batch, augment: true, seed: 0, epoch: 1, sgd });
    row(`train step fp32 (no TF32), batch ${batch}, ${steps} steps`, (performance.now() - t) / 1000, batch * steps);
  }
  await model.predict(data, all.subarray(0, 1024), 1024);
  let t = performance.now();
  await model.predict(data, all, 1024);
  row('eval fp32, batch 1024', (performance.now() - t) / 1000, n);
  const forget = all.subarray(0, 4500);
  t = performance.now();
  await igSaliency(model, data, forget, { baseline: new Float32Array(model.parameterCount), rule: 'middle', steps: 8, batchSize: 256 });
  row('IG 4,500 images x 8 path points, batch 256', (performance.now() - t) / 1000, 4500 * 8);
}
await throughput();
writeFileSync(join(process.env.OUT ?? '.', 'device-check.json'), JSON.stringify(results, null, 1));
const failed = results.parity.filter((p) => !p.ok).length;
console.log(failed ? `${failed} parity checks FAILED` : 'all parity checks passed');
process.exitCode = failed ? 1 : 0;
