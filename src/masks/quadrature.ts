// Quadrature rules on [0, 1] for integrated gradients (docs/method.md 4b): nodes a_k and weights w_k.

export const RULES = ['left', 'right', 'middle', 'trapezoid', 'gauss-legendre'] as const;
export type Rule = (typeof RULES)[number];

export interface Quadrature {
  nodes: number[];
  weights: number[];
}

export function quadrature(rule: Rule, m: number): Quadrature {
  if (!Number.isInteger(m) || m < 1) throw new RangeError(`steps must be a positive integer, got ${m}`);
  const range = Array.from({ length: m }, (_, i) => i + 1); // k = 1..m
  switch (rule) {
    case 'left':
      return { nodes: range.map((k) => (k - 1) / m), weights: range.map(() => 1 / m) };
    case 'right':
      return { nodes: range.map((k) => k / m), weights: range.map(() => 1 / m) };
    case 'middle':
      return { nodes: range.map((k) => (k - 0.5) / m), weights: range.map(() => 1 / m) };
    case 'trapezoid': {
      if (m < 2) throw new RangeError('the trapezoid rule needs at least 2 steps');
      const h = 1 / (m - 1);
      return { nodes: range.map((k) => (k - 1) * h), weights: range.map((k) => (k === 1 || k === m ? h / 2 : h)) };
    }
    case 'gauss-legendre':
      return gaussLegendre(m);
  }
}

/** Gauss-Legendre nodes and weights on [-1, 1] by Newton's method on P_m, mapped to [0, 1]. */
function gaussLegendre(m: number): Quadrature {
  const nodes: number[] = [],
    weights: number[] = [];
  for (let i = 1; i <= m; i++) {
    let x = Math.cos((Math.PI * (i - 0.25)) / (m + 0.5)); // Tricomi's initial guess
    let derivative = 0;
    for (let iteration = 0; iteration < 100; iteration++) {
      // P_m(x) and P_{m-1}(x) by the three-term recurrence
      let p0 = 1,
        p1 = x;
      for (let n = 2; n <= m; n++) [p0, p1] = [p1, ((2 * n - 1) * x * p1 - (n - 1) * p0) / n];
      const pm = m === 1 ? x : p1,
        pm1 = m === 1 ? 1 : p0;
      derivative = (m * (x * pm - pm1)) / (x * x - 1);
      const step = pm / derivative;
      x -= step;
      if (Math.abs(step) < 1e-15) break;
    }
    nodes.push((1 - x) / 2); // ascending on [0, 1]
    weights.push(1 / ((1 - x * x) * derivative * derivative)); // 2/((1-x^2)P'^2), halved by the map
  }
  return { nodes, weights };
}
