// `insalun mask` with a second forget set and the IG targets (docs/method.md 4d): the JSON holds the
// masks' Jaccard overlap, the layer-type shares and each IG's completeness; bad options are one line.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MaskSummary } from '../../src/masks/generate.js';
import { runCli } from '../helpers/cli.js';

let dir: string;
let checkpoint: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'insalun-mask-specificity-'));
  const out = join(dir, 'original');
  const train = await runCli(
    ...['train', '--dataset', 'synthetic', '--synthetic-size', '60', '--synthetic-test-size', '20'],
    ...['--width', '2', '--epochs', '1', '--batch-size', '16', '--device', 'cpu', '--out', out],
  );
  expect(train.code, train.err).toBe(0);
  checkpoint = join(out, 'last.safetensors');
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mask = (out: string, ...args: string[]) =>
  runCli(
    ...['mask', '--checkpoint', checkpoint, '--forget', 'random:8', '--ratios', '0.2,0.5', '--batch-size', '8'],
    ...['--device', 'cpu', '--out', out, ...args],
  );

describe('insalun mask: forget specificity', () => {
  it('grad with a second forget seed: Jaccard per ratio and layer-type shares in the JSON and the output', async () => {
    const out = join(dir, 'grad');
    const r = await mask(out, '--method', 'grad', '--second-forget-seed', '7');
    expect(r.code, r.err).toBe(0);
    const summary: MaskSummary = JSON.parse(await readFile(join(out, 'mask_grad.json'), 'utf8'));
    expect(summary.specificity?.forget).toMatchObject({ spec: 'random:8', seed: 7, count: 8 });
    expect(summary.specificity?.jaccard.map((j) => j.ratio)).toEqual([0.2, 0.5]);
    for (const j of summary.specificity!.jaccard) expect(j.jaccard).toBeGreaterThan(0);
    for (const j of summary.specificity!.jaccard) expect(j.jaccard).toBeLessThanOrEqual(1);
    for (const m of summary.masks) {
      expect(m.layerTypes.map((t) => t.type)).toEqual(['convolution', 'batchnorm', 'linear']);
      expect(m.layerTypes.reduce((s, t) => s + t.ones, 0)).toBe(m.ones);
    }
    expect(summary.saliencyShare.reduce((s, t) => s + t.share, 0)).toBeCloseTo(1, 9);
    expect(r.out).toMatch(
      /mask 0\.5: convolution [\d.]+%, batchnorm [\d.]+%, linear [\d.]+%; Jaccard with the second forget set 0\.\d{3}/,
    );
    // The same forget set twice gives the same masks.
    const same = await mask(
      join(dir, 'same'),
      '--method',
      'grad',
      '--second-forget',
      'random:8',
      '--second-forget-seed',
      '1',
    );
    expect(same.code, same.err).toBe(0);
    const again: MaskSummary = JSON.parse(await readFile(join(dir, 'same', 'mask_grad.json'), 'utf8'));
    expect(again.specificity?.forget.shared).toBe(8);
    expect(again.specificity?.jaccard.every((j) => j.jaccard === 1)).toBe(true);
  }, 120_000);

  it("a second call into the folder at other ratios keeps the first call's masks in the summary", async () => {
    // compare makes one ratio per call into one mask folder; the summary (and the report) lists all.
    const out = join(dir, 'two-calls');
    const ratiosOf = async () =>
      (JSON.parse(await readFile(join(out, 'mask_grad.json'), 'utf8')) as MaskSummary).masks.map((m) => m.ratio);
    expect((await mask(out, '--method', 'grad')).code).toBe(0);
    expect((await mask(out, '--method', 'grad', '--ratios', '0.7')).code).toBe(0);
    expect(await ratiosOf()).toEqual([0.2, 0.5, 0.7]);
    // Another forget set is another saliency: its summary replaces the earlier masks.
    expect((await mask(out, '--method', 'grad', '--ratios', '0.7', '--seed', '3')).code).toBe(0);
    expect(await ratiosOf()).toEqual([0.7]);
  }, 60_000);

  it('ig contrastive from a near baseline reports both completeness figures', async () => {
    const out = join(dir, 'contrastive');
    const r = await mask(
      out,
      ...['--method', 'ig', '--ig-target', 'contrastive', '--lambda', '0.5', '--baseline', 'scale:0.9', '--steps', '4'],
      ...['--second-forget', 'random:8', '--second-forget-seed', '3'],
    );
    expect(r.code, r.err).toBe(0);
    const summary: MaskSummary = JSON.parse(await readFile(join(out, 'mask_ig.json'), 'utf8'));
    expect(summary.options).toMatchObject({ target: 'contrastive', lambda: 0.5, baseline: 'scale:0.9' });
    expect(summary.retainSample).toBe(8);
    const c = summary.completeness!;
    const cr = summary.retainCompleteness!;
    expect(Number.isFinite(c.relativeGap) && Number.isFinite(cr.relativeGap)).toBe(true);
    expect(r.out).toMatch(/completeness of the retain IG: sum IG/);
    expect(summary.specificity?.completeness).toBeDefined();
  }, 120_000);

  it('a malformed baseline is one line and exit 1, and writes nothing', async () => {
    const out = join(dir, 'bad');
    const r = await mask(out, '--method', 'ig', '--baseline', 'scale:abc');
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/baseline 'scale:abc': ALPHA must be a number/);
    await expect(readFile(join(out, 'mask_ig.json'), 'utf8')).rejects.toThrow();
  });
});
