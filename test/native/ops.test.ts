// Every backend op, forward and backward, against float64 references and finite differences.
import { describe, expect, it } from 'vitest';
import { addon, describeEachBackend, deviceCases, maxViolation, randomArray, testRandom } from '../helpers/backends.js';
import * as ref from './reference.js';

const convCases: ref.Conv[] = [
  { n: 2, cin: 3, h: 8, w: 8, cout: 5, k: 3, stride: 1, pad: 1 },
  { n: 3, cin: 4, h: 9, w: 7, cout: 6, k: 3, stride: 2, pad: 1 },
  { n: 2, cin: 5, h: 8, w: 8, cout: 7, k: 1, stride: 2, pad: 0 },
  // one image: the chunks run one after another with every thread inside each GEMM
  { n: 1, cin: 6, h: 7, w: 7, cout: 9, k: 3, stride: 2, pad: 1 },
  { n: 1, cin: 2, h: 7, w: 7, cout: 3, k: 1, stride: 2, pad: 0 },
  // K = 32*9 = 288 > one depth block, P = 5*32*32 = 5120 > one column block of the CPU GEMM
  { n: 5, cin: 32, h: 32, w: 32, cout: 13, k: 3, stride: 1, pad: 1 },
  // stride 1 with output rows as wide as the input's (the CPU's shifted-plane im2col): rectangular,
  // 1x1, 5x5, planes no wider than the kernel's reach, and several images per chunk (n = 9)
  { n: 2, cin: 3, h: 6, w: 9, cout: 4, k: 3, stride: 1, pad: 1 },
  { n: 2, cin: 4, h: 5, w: 5, cout: 3, k: 1, stride: 1, pad: 0 },
  { n: 2, cin: 2, h: 7, w: 6, cout: 3, k: 5, stride: 1, pad: 2 },
  { n: 3, cin: 2, h: 1, w: 2, cout: 3, k: 3, stride: 1, pad: 1 },
  { n: 2, cin: 2, h: 2, w: 1, cout: 2, k: 5, stride: 1, pad: 2 },
  { n: 9, cin: 3, h: 4, w: 4, cout: 5, k: 3, stride: 1, pad: 1 },
  // 3x3 stride 1, padding 1, planes of a multiple of 16 positions, channel counts in 8s: the CPU's
  // direct (AVX-512) kernels, whose 16-lane vectors span one row, part of a row, or several rows
  // (widths 8, 4, 12); planes of 16 or 48 positions put a tile's two vectors in consecutive
  // images; the stem-like 3 -> 8 case takes them forward and for the filter only
  { n: 3, cin: 8, h: 16, w: 16, cout: 16, k: 3, stride: 1, pad: 1 },
  { n: 2, cin: 3, h: 32, w: 32, cout: 8, k: 3, stride: 1, pad: 1 },
  { n: 1, cin: 16, h: 6, w: 16, cout: 8, k: 3, stride: 1, pad: 1 },
  { n: 3, cin: 8, h: 1, w: 32, cout: 24, k: 3, stride: 1, pad: 1 },
  { n: 3, cin: 16, h: 8, w: 8, cout: 8, k: 3, stride: 1, pad: 1 },
  { n: 2, cin: 8, h: 8, w: 4, cout: 16, k: 3, stride: 1, pad: 1 },
  { n: 2, cin: 8, h: 8, w: 12, cout: 8, k: 3, stride: 1, pad: 1 },
  { n: 4, cin: 8, h: 4, w: 4, cout: 16, k: 3, stride: 1, pad: 1 },
  { n: 4, cin: 8, h: 3, w: 16, cout: 8, k: 3, stride: 1, pad: 1 },
  // input channels in 16s: the channels-last filter gradient, for any plane size (3x5: only the
  // filter gradient is direct there)
  { n: 5, cin: 16, h: 4, w: 4, cout: 8, k: 3, stride: 1, pad: 1 },
  { n: 3, cin: 32, h: 3, w: 5, cout: 16, k: 3, stride: 1, pad: 1 },
  // stride 2 with input channels in 16s: the channels-last filter gradient reads every other
  // position (odd sizes: the last output row and column reach the bottom and right border)
  { n: 3, cin: 16, h: 8, w: 8, cout: 8, k: 3, stride: 2, pad: 1 },
  { n: 2, cin: 32, h: 7, w: 5, cout: 16, k: 3, stride: 2, pad: 1 },
  // stride 2 forward and data gradient through the phase split (output planes of 16k positions;
  // odd input sizes leave the last phase row or column past the edge)
  { n: 2, cin: 8, h: 8, w: 8, cout: 16, k: 3, stride: 2, pad: 1 },
  { n: 4, cin: 16, h: 8, w: 8, cout: 8, k: 3, stride: 2, pad: 1 },
  { n: 2, cin: 8, h: 7, w: 15, cout: 8, k: 3, stride: 2, pad: 1 },
  { n: 1, cin: 8, h: 16, w: 8, cout: 24, k: 3, stride: 2, pad: 1 },
  // 1x1 stride 2 (the shortcuts): one tap over the subsampled plane, forward and data gradient
  // (odd input sizes: the last even row and column are the border)
  { n: 2, cin: 8, h: 8, w: 8, cout: 16, k: 1, stride: 2, pad: 0 },
  { n: 4, cin: 16, h: 7, w: 7, cout: 8, k: 1, stride: 2, pad: 0 },
  { n: 1, cin: 8, h: 16, w: 16, cout: 24, k: 1, stride: 2, pad: 0 },
  // rows of 32 or more: the vectorized interleave of the stride-2 data gradient, with a tail
  // (48) and an odd width (47)
  { n: 2, cin: 8, h: 4, w: 48, cout: 8, k: 3, stride: 2, pad: 1 },
  { n: 2, cin: 8, h: 4, w: 47, cout: 8, k: 3, stride: 2, pad: 1 },
  { n: 2, cin: 8, h: 3, w: 47, cout: 16, k: 1, stride: 2, pad: 0 },
  // 1x1 stride-2 filter gradient with input channels in 16s: blocks of two and one (48)
  { n: 3, cin: 48, h: 6, w: 6, cout: 16, k: 1, stride: 2, pad: 0 },
  // AVX2's granularity (8-lane vectors, tiles of 4 output channels x 16 positions): planes of 8
  // and 24 positions (a tile's two vectors in consecutive images), 4 and 12 output channels, 8 and
  // 24 input channels in the lanes of the filter gradient, rows of 8 for the stem-like case, and a
  // stride-2 forward onto 2x4 outputs; on AVX-512 most of these take im2col
  { n: 4, cin: 4, h: 2, w: 4, cout: 12, k: 3, stride: 1, pad: 1 },
  { n: 2, cin: 8, h: 3, w: 8, cout: 4, k: 3, stride: 1, pad: 1 },
  { n: 3, cin: 24, h: 4, w: 6, cout: 4, k: 3, stride: 1, pad: 1 },
  { n: 2, cin: 3, h: 5, w: 8, cout: 4, k: 3, stride: 1, pad: 1 },
  { n: 2, cin: 8, h: 4, w: 8, cout: 12, k: 3, stride: 2, pad: 1 },
  { n: 2, cin: 24, h: 6, w: 6, cout: 4, k: 1, stride: 2, pad: 0 },
  // planes that are not a multiple of the vector width (Fashion-MNIST's 14x14 and 7x7): the last
  // vector of each plane is partial, read and written on its lanes inside the plane; odd vector
  // counts pair planes of two images in a tile
  { n: 2, cin: 16, h: 14, w: 14, cout: 16, k: 3, stride: 1, pad: 1 },
  { n: 2, cin: 16, h: 14, w: 14, cout: 32, k: 3, stride: 2, pad: 1 },
  { n: 2, cin: 16, h: 14, w: 14, cout: 32, k: 1, stride: 2, pad: 0 },
  { n: 4, cin: 32, h: 7, w: 7, cout: 12, k: 3, stride: 1, pad: 1 },
  { n: 3, cin: 8, h: 5, w: 6, cout: 12, k: 3, stride: 1, pad: 1 },
  // stride 1 without padding: narrower output rows, the general im2col
  { n: 2, cin: 3, h: 6, w: 7, cout: 4, k: 3, stride: 1, pad: 0 },
];

describeEachBackend('conv2d', (device) => {
  const ops = addon.ops(device);
  for (const s of convCases) {
    const label = `${s.n}x${s.cin}x${s.h}x${s.w} -> ${s.cout}, k${s.k} s${s.stride} p${s.pad}`;
    const rand = testRandom(s.cin * 100 + s.cout);
    const { ho, wo } = ref.outSize(s);
    const x = randomArray(s.n * s.cin * s.h * s.w, rand);
    const w = randomArray(s.cout * s.cin * s.k * s.k, rand);
    const dy = randomArray(s.n * s.cout * ho * wo, rand);
    it(`forward ${label}`, () => {
      expect(maxViolation(ops.conv2dForward(s, x, w), ref.convForward(s, x, w), 1e-4, 1e-4)).toBeLessThanOrEqual(1);
    });
    it(`backward data ${label}`, () => {
      expect(
        maxViolation(ops.conv2dBackwardData(s, dy, w), ref.convBackwardData(s, dy, w), 1e-4, 1e-4),
      ).toBeLessThanOrEqual(1);
    });
    it(`backward data, accumulating into dx, ${label}`, () => {
      const start = randomArray(x.length, rand);
      const want = Array.from(ref.convBackwardData(s, dy, w), (v, i) => v + start[i]);
      expect(maxViolation(ops.conv2dBackwardData(s, dy, w, start), want, 1e-4, 1e-4)).toBeLessThanOrEqual(1);
    });
    it(`forward with the inference batch norm folded in, ${label}`, () => {
      const c = s.cout,
        hw = ho * wo,
        eps = 1e-5;
      const gamma = randomArray(c, rand),
        beta = randomArray(c, rand),
        mean = randomArray(c, rand, 0.5);
      const variance = Float32Array.from(randomArray(c, rand), (v) => 0.5 + Math.abs(v));
      const residual = randomArray(s.n * c * hw, rand);
      const norm = { n: s.n, c, hw };
      const conv = ops.conv2dForward(s, x, w);
      for (const o of [{ eps }, { eps, relu: true }, { eps, residual, relu: true }]) {
        const fused = ops.conv2dForwardBnEval(s, x, w, gamma, beta, mean, variance, o);
        const plain = ref.bnEval(norm, ref.convForward(s, x, w), gamma, beta, mean, variance, eps);
        const want = Array.from(plain, (v, i) => {
          const sum = v + (o.residual ? o.residual[i] : 0);
          return o.relu ? Math.max(sum, 0) : sum;
        });
        expect(maxViolation(fused, want, 1e-4, 1e-4)).toBeLessThanOrEqual(1);
        // The same bits as the two ops in turn: evaluation and training-mode code agree exactly.
        const separate = ops.bnForward(norm, conv, gamma, beta, mean, variance, { train: false, momentum: 0, ...o });
        expect(Array.from(fused)).toEqual(Array.from(separate.y));
      }
    });
    it(`backward filter ${label}`, () => {
      expect(
        maxViolation(ops.conv2dBackwardFilter(s, x, dy), ref.convBackwardFilter(s, x, dy), 1e-3, 1e-4),
      ).toBeLessThanOrEqual(1);
    });
  }
});

describeEachBackend('batch norm', (device) => {
  const ops = addon.ops(device);
  const s = { n: 3, c: 4, hw: 5 };
  const eps = 1e-5,
    momentum = 0.1;
  const rand = testRandom(7);
  const x = randomArray(s.n * s.c * s.hw, rand, 2);
  const gamma = randomArray(s.c, rand),
    beta = randomArray(s.c, rand);
  const rm = randomArray(s.c, rand, 0.5),
    rv = Float32Array.from(randomArray(s.c, rand), (v) => 1 + Math.abs(v));
  const r = randomArray(x.length, rand); // loss = sum(r * y)

  it('train forward normalizes with batch statistics and updates running stats (unbiased var)', () => {
    const out = ops.bnForward(s, x, gamma, beta, rm, rv, { train: true, momentum, eps });
    const want = ref.bnTrain(s, x, gamma, beta, eps);
    expect(maxViolation(out.y, want.y, 1e-5, 1e-5)).toBeLessThanOrEqual(1);
    const wantRm = Array.from(rm, (v, c) => (1 - momentum) * v + momentum * want.mean[c]);
    const wantRv = Array.from(rv, (v, c) => (1 - momentum) * v + momentum * want.varU[c]);
    expect(maxViolation(out.runningMean, wantRm, 1e-6, 1e-5)).toBeLessThanOrEqual(1);
    expect(maxViolation(out.runningVar, wantRv, 1e-6, 1e-5)).toBeLessThanOrEqual(1);
  });

  it('eval forward uses running statistics and leaves them alone', () => {
    const out = ops.bnForward(s, x, gamma, beta, rm, rv, { train: false, momentum, eps });
    expect(maxViolation(out.y, ref.bnEval(s, x, gamma, beta, rm, rv, eps), 1e-5, 1e-5)).toBeLessThanOrEqual(1);
    expect(Array.from(out.runningMean)).toEqual(Array.from(rm));
    expect(Array.from(out.runningVar)).toEqual(Array.from(rv));
  });

  for (const train of [true, false]) {
    const mode = train ? 'train' : 'eval';
    it(`${mode} forward with the residual add and ReLU folded in`, () => {
      const residual = randomArray(x.length, rand);
      const out = ops.bnForward(s, x, gamma, beta, rm, rv, { train, momentum, eps, residual, relu: true });
      const plain = train ? ref.bnTrain(s, x, gamma, beta, eps).y : ref.bnEval(s, x, gamma, beta, rm, rv, eps);
      const want = Array.from(plain, (v, i) => Math.max(v + residual[i], 0));
      expect(want.some((v) => v === 0) && want.some((v) => v > 0)).toBe(true);
      expect(maxViolation(out.y, want, 1e-5, 1e-5)).toBeLessThanOrEqual(1);
      const reluOnly = ops.bnForward(s, x, gamma, beta, rm, rv, { train, momentum, eps, relu: true });
      expect(
        maxViolation(
          reluOnly.y,
          Array.from(plain, (v) => Math.max(v, 0)),
          1e-5,
          1e-5,
        ),
      ).toBeLessThanOrEqual(1);
    });

    it(`${mode} backward with the ReLU folded in equals ReLU backward then BN backward`, () => {
      const fwd = ops.bnForward(s, x, gamma, beta, rm, rv, { train, momentum, eps, relu: true });
      const fused = ops.bnBackward(s, x, r, gamma, fwd.saveMean, fwd.saveInvstd, train, fwd.y);
      const gatedDy = ops.reluBackward(fwd.y, r);
      expect(Array.from(gatedDy).filter((v) => v === 0).length).toBeGreaterThan(0);
      const unfused = ops.bnBackward(s, x, gatedDy, gamma, fwd.saveMean, fwd.saveInvstd, train);
      expect(maxViolation(fused.dx, unfused.dx, 1e-6, 1e-5)).toBeLessThanOrEqual(1);
      expect(maxViolation(fused.dgamma, unfused.dgamma, 1e-6, 1e-5)).toBeLessThanOrEqual(1);
      expect(maxViolation(fused.dbeta, unfused.dbeta, 1e-6, 1e-5)).toBeLessThanOrEqual(1);
    });

    // At a block's output the gated gradient also feeds the shortcut branch: the backward keeps
    // it (in place over dy, as the network does, or apart), instead of a ReLU backward pass.
    it(`${mode} backward keeps the ReLU-gated dy, apart or in place over dy, exactly ReLU backward's`, () => {
      const fwd = ops.bnForward(s, x, gamma, beta, rm, rv, { train, momentum, eps, relu: true });
      const gatedDy = Array.from(ops.reluBackward(fwd.y, r));
      const plain = ops.bnBackward(s, x, r, gamma, fwd.saveMean, fwd.saveInvstd, train, fwd.y);
      for (const keep of ['separate', 'in-place'] as const) {
        const kept = ops.bnBackward(s, x, r, gamma, fwd.saveMean, fwd.saveInvstd, train, fwd.y, keep);
        expect(Array.from(kept.gatedDy!), keep).toEqual(gatedDy);
        expect(Array.from(kept.dx), keep).toEqual(Array.from(plain.dx));
        expect(Array.from(kept.dgamma), keep).toEqual(Array.from(plain.dgamma));
      }
      expect(() => ops.bnBackward(s, x, r, gamma, fwd.saveMean, fwd.saveInvstd, train, undefined, 'in-place')).toThrow(
        /needs the ReLU output/,
      );
    });

    it(`${mode} backward matches finite differences`, () => {
      const fwd = ops.bnForward(s, x, gamma, beta, rm, rv, { train, momentum, eps });
      const back = ops.bnBackward(s, x, r, gamma, fwd.saveMean, fwd.saveInvstd, train);
      const loss = (xx: Float64Array, g: ArrayLike<number>, b: ArrayLike<number>) =>
        ref.dot(r, train ? ref.bnTrain(s, xx, g, b, eps).y : ref.bnEval(s, xx, g, b, rm, rv, eps));
      const x64 = Float64Array.from(x),
        g64 = Float64Array.from(gamma),
        b64 = Float64Array.from(beta);
      expect(
        maxViolation(
          back.dx,
          ref.numericGradient(x64, (v) => loss(v, gamma, beta)),
          1e-4,
          1e-3,
        ),
      ).toBeLessThanOrEqual(1);
      expect(
        maxViolation(
          back.dgamma,
          ref.numericGradient(g64, (v) => loss(x64, v, beta)),
          1e-4,
          1e-4,
        ),
      ).toBeLessThanOrEqual(1);
      expect(
        maxViolation(
          back.dbeta,
          ref.numericGradient(b64, (v) => loss(x64, gamma, v)),
          1e-4,
          1e-4,
        ),
      ).toBeLessThanOrEqual(1);
    });
  }

  // The CUDA backend reduces a channel of more than 4,096 values in several slices, one block
  // each, and the last block to finish adds them up in the same launch (batchnorm.cu): this shape
  // has 3 slices per channel on any GPU. Run twice, since each launch must leave the counters that
  // elect that block as it found them. An offset mean (|mean| >> std) checks the shifted sums.
  it('train forward and backward over channels of several reduction slices, twice in a row', () => {
    const big = { n: 4, c: 3, hw: 48 * 48 };
    const rand2 = testRandom(17);
    const xb = Float32Array.from(
      randomArray(big.n * big.c * big.hw, rand2, 2),
      (v, i) => v + 50 * (Math.floor(i / big.hw) % big.c),
    );
    const dy = randomArray(xb.length, rand2);
    const g = randomArray(big.c, rand2),
      b = randomArray(big.c, rand2);
    const want = ref.bnTrain(big, xb, g, b, eps),
      wantBack = ref.bnTrainBackward(big, xb, dy, g, eps);
    for (let run = 0; run < 2; run++) {
      const zero = new Float32Array(big.c),
        one = Float32Array.from(zero, () => 1);
      const out = ops.bnForward(big, xb, g, b, zero, one, { train: true, momentum: 1, eps });
      expect(maxViolation(out.y, want.y, 1e-4, 1e-4)).toBeLessThanOrEqual(1);
      expect(maxViolation(out.runningMean, want.mean, 1e-5, 1e-6)).toBeLessThanOrEqual(1);
      expect(maxViolation(out.runningVar, want.varU, 1e-5, 1e-5)).toBeLessThanOrEqual(1);
      const back = ops.bnBackward(big, xb, dy, g, out.saveMean, out.saveInvstd, true);
      expect(maxViolation(back.dx, wantBack.dx, 1e-4, 1e-4)).toBeLessThanOrEqual(1);
      expect(maxViolation(back.dgamma, wantBack.dgamma, 1e-4, 1e-4)).toBeLessThanOrEqual(1);
      expect(maxViolation(back.dbeta, wantBack.dbeta, 1e-4, 1e-4)).toBeLessThanOrEqual(1);
    }
  });
});

// bf16 NHWC (CUDA): the elementwise passes of batch norm look a pack's channel constants up once
// per thread, before its grid-stride loop, when the loop's stride is a multiple of the channel
// count, and per pack otherwise (batchnorm.cu, for_each_pack). On the emulation's 2 SMs the
// stride is 16,384 packs of 8: 32 channels (4 packs a row) take the first way, 24 (3 packs) the
// second, and at 8 x 1,024 positions threads run more than one pack. The eval passes do the same
// arithmetic in both layouts, so NHWC must give NCHW's bits; the train passes, whose statistics
// add up in another order per layout, are held to the fp32 CPU reference within bf16's rounding.
const cudaCase = deviceCases.find((c) => c.device === 'cuda')!;
(cudaCase.available ? describe : describe.skip)('batch norm in bf16 NHWC [cuda]', () => {
  const eps = 1e-5,
    momentum = 0.1;
  const opsIn = (layout: 'nhwc' | 'nchw') => {
    process.env.INSALUN_CUDA_BF16_LAYOUT = layout; // read when the op set picks its precision
    try {
      return addon.ops('cuda', { precision: 'bf16' });
    } finally {
      delete process.env.INSALUN_CUDA_BF16_LAYOUT;
    }
  };
  for (const c of [32, 24]) {
    it(`${c} channels: eval passes give NCHW's bits, train passes the reference's values`, () => {
      const nhwc = opsIn('nhwc'),
        nchw = opsIn('nchw');
      const s = { n: 8, c, hw: 1024 };
      const rand = testRandom(c);
      const x = randomArray(s.n * c * s.hw, rand, 2),
        dy = randomArray(x.length, rand),
        residual = randomArray(x.length, rand);
      const gamma = randomArray(c, rand),
        beta = randomArray(c, rand);
      const rm = randomArray(c, rand, 0.5),
        rv = Float32Array.from(randomArray(c, rand), (v) => 1 + Math.abs(v));
      const evalOpts = { train: false, momentum, eps, residual, relu: true };
      const y = nhwc.bnForward(s, x, gamma, beta, rm, rv, evalOpts).y;
      expect(Array.from(y)).toEqual(Array.from(nchw.bnForward(s, x, gamma, beta, rm, rv, evalOpts).y));
      const plain = ref.bnEval(s, x, gamma, beta, rm, rv, eps);
      expect(
        maxViolation(
          y,
          Array.from(plain, (v, i) => Math.max(v + residual[i], 0)),
          5e-2,
          2e-2,
        ),
      ).toBeLessThanOrEqual(1);
      const fwd = nhwc.bnForward(s, x, gamma, beta, rm, rv, { train: false, momentum, eps });
      const dxEval = nhwc.bnBackward(s, x, dy, gamma, fwd.saveMean, fwd.saveInvstd, false).dx;
      expect(Array.from(dxEval)).toEqual(
        Array.from(nchw.bnBackward(s, x, dy, gamma, fwd.saveMean, fwd.saveInvstd, false).dx),
      );

      const train = nhwc.bnForward(s, x, gamma, beta, rm, rv, { train: true, momentum, eps });
      expect(maxViolation(train.y, ref.bnTrain(s, x, gamma, beta, eps).y, 5e-2, 2e-2)).toBeLessThanOrEqual(1);
      const back = nhwc.bnBackward(s, x, dy, gamma, train.saveMean, train.saveInvstd, true);
      expect(maxViolation(back.dx, ref.bnTrainBackward(s, x, dy, gamma, eps).dx, 5e-2, 2e-2)).toBeLessThanOrEqual(1);
    });
  }
});

describeEachBackend('elementwise, pooling, linear, loss', (device) => {
  const ops = addon.ops(device);
  const rand = testRandom(11);

  it('a NaN passes through ReLU (as in PyTorch), in the standalone and the fused forward', () => {
    const x = Float32Array.from([1, -1, NaN, 0.5]);
    expect(Array.from(ops.reluForward(x)).map(String)).toEqual(['1', '0', 'NaN', '0.5']);
    const s = { n: 1, c: 1, hw: 4 };
    const one = Float32Array.from([1]),
      zero = Float32Array.from([0]);
    const y = ops.bnForward(s, Float32Array.from([1, 2, 3, 4]), one, zero, zero, one, {
      train: false,
      momentum: 0.1,
      eps: 0,
      residual: x,
      relu: true,
    }).y;
    expect(Number.isNaN(y[2])).toBe(true);
  });

  it('relu forward and backward', () => {
    const x = randomArray(1000, rand);
    const dy = randomArray(1000, rand);
    const y = ops.reluForward(x);
    expect(Array.from(y)).toEqual(Array.from(x, (v) => Math.max(v, 0)));
    expect(Array.from(ops.reluBackward(y, dy))).toEqual(Array.from(dy, (g, i) => (x[i] > 0 ? g : 0)));
  });

  it('activations round-trip exactly in fp32', () => {
    const x = randomArray(333, rand);
    expect(Array.from(ops.roundTripActivations(x))).toEqual(Array.from(x));
  });

  it('axpy, lerp, mulDiff, sum', () => {
    const a = randomArray(777, rand),
      b = randomArray(777, rand),
      c = randomArray(777, rand);
    expect(
      maxViolation(
        ops.axpy(0.5, a, b),
        Array.from(a, (v, i) => b[i] + 0.5 * v),
        1e-7,
        1e-6,
      ),
    ).toBeLessThanOrEqual(1);
    expect(
      maxViolation(
        ops.lerp(a, b, 0.25),
        Array.from(a, (v, i) => v + 0.25 * (b[i] - v)),
        1e-7,
        1e-6,
      ),
    ).toBeLessThanOrEqual(1);
    expect(
      maxViolation(
        ops.mulDiff(a, b, c),
        Array.from(a, (v, i) => (v - b[i]) * c[i]),
        1e-7,
        1e-6,
      ),
    ).toBeLessThanOrEqual(1);
    expect(ops.sum(a)).toBeCloseTo(
      Array.from(a).reduce((s, v) => s + v, 0),
      4,
    );
  });

  it('global average pool forward and backward', () => {
    const s = { n: 3, c: 5, hw: 16 };
    const x = randomArray(s.n * s.c * s.hw, rand);
    const y = ops.avgpoolForward(s, x);
    const want = Array.from(
      { length: s.n * s.c },
      (_, p) => Array.from(x.subarray(p * s.hw, (p + 1) * s.hw)).reduce((u, v) => u + v, 0) / s.hw,
    );
    expect(maxViolation(y, want, 1e-6, 1e-5)).toBeLessThanOrEqual(1);
    const dy = randomArray(s.n * s.c, rand);
    const dx = ops.avgpoolBackward(s, dy);
    expect(
      maxViolation(
        dx,
        Array.from(dx, (_, i) => dy[Math.floor(i / s.hw)] / s.hw),
        1e-7,
        1e-6,
      ),
    ).toBeLessThanOrEqual(1);
  });

  it('linear forward and backward (odd sizes)', () => {
    const n = 7,
      inF = 37,
      outF = 11;
    const x = randomArray(n * inF, rand),
      w = randomArray(outF * inF, rand),
      b = randomArray(outF, rand),
      dy = randomArray(n * outF, rand);
    const y = ops.linearForward({ n, in: inF, out: outF }, x, w, b);
    const wantY = new Float64Array(n * outF),
      wantDx = new Float64Array(n * inF),
      wantDw = new Float64Array(outF * inF),
      wantDb = new Float64Array(outF);
    for (let i = 0; i < n; i++)
      for (let o = 0; o < outF; o++) {
        wantY[i * outF + o] = b[o];
        wantDb[o] += dy[i * outF + o];
        for (let k = 0; k < inF; k++) {
          wantY[i * outF + o] += x[i * inF + k] * w[o * inF + k];
          wantDx[i * inF + k] += dy[i * outF + o] * w[o * inF + k];
          wantDw[o * inF + k] += dy[i * outF + o] * x[i * inF + k];
        }
      }
    expect(maxViolation(y, wantY, 1e-5, 1e-5)).toBeLessThanOrEqual(1);
    const g = ops.linearBackward({ n, in: inF, out: outF }, x, w, dy);
    expect(maxViolation(g.dx, wantDx, 1e-5, 1e-5)).toBeLessThanOrEqual(1);
    expect(maxViolation(g.dw, wantDw, 1e-5, 1e-5)).toBeLessThanOrEqual(1);
    expect(maxViolation(g.db, wantDb, 1e-5, 1e-5)).toBeLessThanOrEqual(1);
  });

  it('softmax cross-entropy: loss, correct count, gradient, and the ascent scale', () => {
    const n = 9,
      classes = 10;
    const logits = randomArray(n * classes, rand, 5);
    const labels = Int32Array.from({ length: n }, (_, i) => (i * 7) % classes);
    const want = ref.softmaxXent(n, classes, logits, labels);
    const got = ops.softmaxXent(n, classes, logits, labels, 1);
    expect(got.lossSum).toBeCloseTo(want.loss, 4);
    expect(got.correct).toBe(want.correct);
    expect(maxViolation(got.dlogits, want.dlogits, 1e-6, 1e-5)).toBeLessThanOrEqual(1);
    const ascent = ops.softmaxXent(n, classes, logits, labels, -1);
    expect(
      maxViolation(
        ascent.dlogits,
        Array.from(want.dlogits, (v) => -v),
        1e-6,
        1e-5,
      ),
    ).toBeLessThanOrEqual(1);
    // The gradient of the mean loss, checked by finite differences of the float64 loss.
    const l64 = Float64Array.from(logits);
    const numeric = ref.numericGradient(l64, (z) => ref.softmaxXent(n, classes, z, labels).loss / n);
    expect(maxViolation(got.dlogits, numeric, 1e-6, 1e-4)).toBeLessThanOrEqual(1);
  });
});
