// The throughput bench measures what its rows say: as many images as steps x batch, captured
// training as steady-state steps (the difference of two epochs, as PyTorch's figures are steady
// state) with the per-epoch cost beside them, eager training as one epoch. (Speed is asserted nowhere.)
import { expect, it } from 'vitest';
import { measureThroughput } from '../../src/bench/throughput.js';
import { describeEachBackend } from '../helpers/backends.js';

describeEachBackend('throughput bench', (device) => {
  for (const stepCapture of [true, false]) {
    it(`rows for training, evaluation and IG (step capture ${stepCapture ? 'on' : 'off'})`, async () => {
      const rows = await measureThroughput({
        device,
        precision: 'fp32',
        stepCapture,
        width: 4,
        trainBatches: [4, 8],
        trainSteps: 3,
        evalBatch: 4,
        evalImages: 12,
        igImages: 6,
        igPoints: 2,
        igBatch: 4,
      });
      expect(rows.map((r) => [r.kind, r.batch])).toEqual([
        ['train', 4],
        ['train', 8],
        ['eval', 4],
        ['ig', 4],
      ]);
      const [train4, train8, evaluation, ig] = rows;
      expect([train4.images, train8.images, evaluation.images, ig.images]).toEqual([12, 24, 12, 12]);
      for (const r of rows) {
        expect(r.seconds).toBeGreaterThan(0);
        expect(r.imagesPerSecond).toBeCloseTo(r.images / r.seconds, 6);
      }
      // Only the CUDA backend captures steps.
      const captured = stepCapture && device === 'cuda';
      for (const r of rows) expect(r.captured).toBe(captured);
      for (const r of [train4, train8, evaluation]) {
        if (captured) {
          expect(Number.isFinite(r.epochOverheadSeconds)).toBe(true);
          expect(r.work).toMatch(
            r.kind === 'train'
              ? /steady state over 3 steps; -?\d+\.\d ms more per epoch/
              : /steady state; -?\d+\.\d ms more per pass/,
          );
        } else {
          expect(r.epochOverheadSeconds).toBeUndefined();
          if (r.kind === 'train') expect(r.work).toMatch(/\(3 steps\)$/);
        }
      }
    });
  }
});
