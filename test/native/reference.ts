// Float64 reference implementations of the backend ops, written as directly as possible.
export interface Conv {
  n: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
}

export const outSize = (s: Conv) => ({
  ho: Math.floor((s.h + 2 * s.pad - s.k) / s.stride) + 1,
  wo: Math.floor((s.w + 2 * s.pad - s.k) / s.stride) + 1,
});

// Calls f(outputIndex, inputIndex, weightIndex) for every multiply of the convolution.
function forEachTap(s: Conv, f: (o: number, i: number, w: number) => void): void {
  const { ho, wo } = outSize(s);
  for (let n = 0; n < s.n; n++)
    for (let co = 0; co < s.cout; co++)
      for (let oy = 0; oy < ho; oy++)
        for (let ox = 0; ox < wo; ox++)
          for (let ci = 0; ci < s.cin; ci++)
            for (let ky = 0; ky < s.k; ky++)
              for (let kx = 0; kx < s.k; kx++) {
                const iy = oy * s.stride - s.pad + ky,
                  ix = ox * s.stride - s.pad + kx;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                f(
                  ((n * s.cout + co) * ho + oy) * wo + ox,
                  ((n * s.cin + ci) * s.h + iy) * s.w + ix,
                  ((co * s.cin + ci) * s.k + ky) * s.k + kx,
                );
              }
}

export function convForward(s: Conv, x: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const { ho, wo } = outSize(s);
  const y = new Float64Array(s.n * s.cout * ho * wo);
  forEachTap(s, (o, i, k) => {
    y[o] += x[i] * w[k];
  });
  return y;
}
export function convBackwardData(s: Conv, dy: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(s.n * s.cin * s.h * s.w);
  forEachTap(s, (o, i, k) => {
    dx[i] += dy[o] * w[k];
  });
  return dx;
}
export function convBackwardFilter(s: Conv, x: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const dw = new Float64Array(s.cout * s.cin * s.k * s.k);
  forEachTap(s, (o, i, k) => {
    dw[k] += dy[o] * x[i];
  });
  return dw;
}

export interface Norm {
  n: number;
  c: number;
  hw: number;
}
const at = (s: Norm, n: number, c: number, j: number) => (n * s.c + c) * s.hw + j;

/** Train-mode BN in float64; returns y and the batch mean and biased / unbiased variances. */
export function bnTrain(s: Norm, x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, eps: number) {
  const y = new Float64Array(x.length),
    mean = new Float64Array(s.c),
    varB = new Float64Array(s.c),
    varU = new Float64Array(s.c);
  const m = s.n * s.hw;
  for (let c = 0; c < s.c; c++) {
    let sum = 0;
    for (let n = 0; n < s.n; n++) for (let j = 0; j < s.hw; j++) sum += x[at(s, n, c, j)];
    mean[c] = sum / m;
    let sq = 0;
    for (let n = 0; n < s.n; n++) for (let j = 0; j < s.hw; j++) sq += (x[at(s, n, c, j)] - mean[c]) ** 2;
    varB[c] = sq / m;
    varU[c] = sq / (m - 1);
    for (let n = 0; n < s.n; n++)
      for (let j = 0; j < s.hw; j++)
        y[at(s, n, c, j)] = ((x[at(s, n, c, j)] - mean[c]) / Math.sqrt(varB[c] + eps)) * gamma[c] + beta[c];
  }
  return { y, mean, varB, varU };
}

/** Train-mode BN backward in float64 (the closed form): dx, dgamma, dbeta for the incoming gradient dy. */
export function bnTrainBackward(
  s: Norm,
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  gamma: ArrayLike<number>,
  eps: number,
) {
  const { mean, varB } = bnTrain(s, x, gamma, new Float64Array(s.c), eps);
  const dx = new Float64Array(x.length),
    dgamma = new Float64Array(s.c),
    dbeta = new Float64Array(s.c);
  const m = s.n * s.hw;
  for (let c = 0; c < s.c; c++) {
    const invstd = 1 / Math.sqrt(varB[c] + eps);
    const xhat = (n: number, j: number) => (x[at(s, n, c, j)] - mean[c]) * invstd;
    for (let n = 0; n < s.n; n++)
      for (let j = 0; j < s.hw; j++) {
        dbeta[c] += dy[at(s, n, c, j)];
        dgamma[c] += dy[at(s, n, c, j)] * xhat(n, j);
      }
    for (let n = 0; n < s.n; n++)
      for (let j = 0; j < s.hw; j++)
        dx[at(s, n, c, j)] = gamma[c] * invstd * (dy[at(s, n, c, j)] - dbeta[c] / m - xhat(n, j) * (dgamma[c] / m));
  }
  return { dx, dgamma, dbeta };
}

export function bnEval(
  s: Norm,
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  rm: ArrayLike<number>,
  rv: ArrayLike<number>,
  eps: number,
): Float64Array {
  const y = new Float64Array(x.length);
  for (let n = 0; n < s.n; n++)
    for (let c = 0; c < s.c; c++)
      for (let j = 0; j < s.hw; j++)
        y[at(s, n, c, j)] = ((x[at(s, n, c, j)] - rm[c]) / Math.sqrt(rv[c] + eps)) * gamma[c] + beta[c];
  return y;
}

/** Central finite differences of f at x along every coordinate (float64). */
export function numericGradient(x: Float64Array, f: (x: Float64Array) => number, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + h;
    const up = f(x);
    x[i] = keep - h;
    const down = f(x);
    x[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

export const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/** Softmax cross-entropy (mean over the batch) in float64, with its gradient. */
export function softmaxXent(n: number, classes: number, logits: ArrayLike<number>, labels: ArrayLike<number>) {
  let loss = 0,
    correct = 0;
  const d = new Float64Array(n * classes);
  for (let i = 0; i < n; i++) {
    let max = -Infinity,
      best = 0;
    for (let k = 0; k < classes; k++)
      if (logits[i * classes + k] > max) {
        max = logits[i * classes + k];
        best = k;
      }
    let denom = 0;
    for (let k = 0; k < classes; k++) denom += Math.exp(logits[i * classes + k] - max);
    loss += Math.log(denom) - (logits[i * classes + labels[i]] - max);
    if (best === labels[i]) correct++;
    for (let k = 0; k < classes; k++)
      d[i * classes + k] = (Math.exp(logits[i * classes + k] - max) / denom - (k === labels[i] ? 1 : 0)) / n;
  }
  return { loss, correct, dlogits: d };
}
