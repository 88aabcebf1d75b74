import { expect, it } from 'vitest';
import { relativeL2, roundMantissa } from '../../src/bench/numerics.js';

it('roundMantissa rounds to nearest, ties to even, like a bf16/TF32 conversion', () => {
  const ulp7 = 2 ** -7; // one bf16 unit at 1.0
  const x = Float32Array.from([
    1,
    1 + ulp7 / 2,
    1 + (3 * ulp7) / 2,
    1 + ulp7 / 2 + 2 ** -20,
    -(1 + ulp7 / 4),
    3.140625,
  ]);
  expect(Array.from(roundMantissa(x, 7))).toEqual([1, 1, 1 + 2 * ulp7, 1 + ulp7, -1, 3.140625]);
  // 10 bits (TF32): 1 + 2^-11 is a tie and goes to 1; 1 + 3 * 2^-11 goes up to 1 + 2^-9
  expect(Array.from(roundMantissa(Float32Array.from([1 + 2 ** -11, 1 + 3 * 2 ** -11]), 10))).toEqual([1, 1 + 2 ** -9]);
  expect(Array.from(roundMantissa(x, 23))).toEqual(Array.from(x));
});

it('relativeL2 is |a - b| / |b|', () => {
  expect(relativeL2(Float32Array.from([3, 4]), Float32Array.from([0, 4]))).toBeCloseTo(3 / 4, 12);
  expect(relativeL2(Float32Array.from([1, 2]), Float32Array.from([1, 2]))).toBe(0);
  expect(() => relativeL2(new Float32Array(2), new Float32Array(3))).toThrow(/length/);
});
