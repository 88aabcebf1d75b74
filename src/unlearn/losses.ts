// Losses of the custom-loss methods (neggrad+, scrub), computed in TypeScript from the logits that
// forwardBatch returns. Each gives the batch loss and dL/dlogits for backwardBatch; `scale`
// multiplies both, so weighted sums of losses are sums of their gradients. Float64 inside.

export interface LossGradient {
  loss: number; // scale * the batch-mean loss
  grad: Float32Array; // dL/dlogits, row-major [n, classes]
}

/** softmax(logits / temperature), one row per sample. */
function softmaxRows(logits: Float32Array, classes: number, temperature = 1): Float64Array {
  const out = new Float64Array(logits.length);
  for (let base = 0; base < logits.length; base += classes) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[base + c] / temperature);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += out[base + c] = Math.exp(logits[base + c] / temperature - max);
    for (let c = 0; c < classes; c++) out[base + c] /= sum;
  }
  return out;
}

function rows(logits: Float32Array, classes: number): number {
  if (logits.length === 0 || logits.length % classes !== 0)
    throw new RangeError(`${logits.length} logits are not rows of ${classes} classes`);
  return logits.length / classes;
}

/** scale * mean cross-entropy; its gradient is scale * (softmax - onehot) / n. */
export function crossEntropy(
  logits: Float32Array,
  labels: Int32Array,
  classes: number,
  scale = 1,
): LossGradient & { correct: number } {
  const n = rows(logits, classes);
  if (labels.length !== n) throw new RangeError(`${labels.length} labels for ${n} samples`);
  const p = softmaxRows(logits, classes);
  const grad = new Float32Array(logits.length);
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const base = i * classes;
    const y = labels[i];
    let best = 0;
    for (let c = 0; c < classes; c++) {
      grad[base + c] = (scale * (p[base + c] - (c === y ? 1 : 0))) / n;
      if (logits[base + c] > logits[base + best]) best = c;
    }
    loss -= Math.log(Math.max(p[base + y], Number.MIN_VALUE));
    if (best === y) correct++;
  }
  return { loss: (scale * loss) / n, grad, correct };
}

/**
 * SCRUB's DistillKL: T^2 * mean over the batch of KL(p_teacher || p_student) with p = softmax(z / T).
 * Its gradient with respect to the student logits is scale * T * (p_s - p_t) / n.
 */
export function distillKL(
  student: Float32Array,
  teacher: Float32Array,
  classes: number,
  temperature: number,
  scale = 1,
): LossGradient {
  const n = rows(student, classes);
  if (teacher.length !== student.length) throw new RangeError('teacher and student logits differ in shape');
  const ps = softmaxRows(student, classes, temperature);
  const pt = softmaxRows(teacher, classes, temperature);
  const grad = new Float32Array(student.length);
  let kl = 0;
  for (let j = 0; j < student.length; j++) {
    if (pt[j] > 0) kl += pt[j] * Math.log(pt[j] / Math.max(ps[j], Number.MIN_VALUE));
    grad[j] = (scale * temperature * (ps[j] - pt[j])) / n;
  }
  return { loss: (scale * temperature * temperature * kl) / n, grad };
}

/** The sum of weighted losses: losses add, and so do their gradients. */
export function sumLosses(...parts: LossGradient[]): LossGradient {
  const grad = new Float32Array(parts[0].grad.length);
  let loss = 0;
  for (const part of parts) {
    loss += part.loss;
    for (let j = 0; j < grad.length; j++) grad[j] += part.grad[j];
  }
  return { loss, grad };
}
