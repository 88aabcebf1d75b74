import { describe, expect, it } from 'vitest';
import { avgGap } from '../../src/metrics/gap.js';

describe('avgGap', () => {
  it("reproduces SalUn's Table 1 gap for SalUn against Retrain", () => {
    const retrain = { UA: 5.24, RA: 100, TA: 94.26, MIA: 12.88 };
    const salun = { UA: 2.85, RA: 99.62, TA: 93.93, MIA: 14.39 };
    // (2.39 + 0.38 + 0.33 + 1.51) / 4 = 1.1525, printed as 1.15 in the paper
    expect(avgGap(salun, retrain)).toBeCloseTo(1.1525, 10);
    expect(avgGap(retrain, retrain)).toBe(0);
  });
});
