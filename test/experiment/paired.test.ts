// The paired comparison over seeds (src/experiment/paired.ts, insalun paired): the sign test against
// binomial tails computed by hand, the bootstrap interval, pairing of tuned rows by rule, and the
// command on a compare folder's results.json.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pairedComparisons, signTestP } from '../../src/experiment/paired.js';
import { runCli } from '../helpers/cli.js';

const row = (name: string, gaps: (number | null)[]) => ({
  name,
  records: gaps.map((avgGap, i) => ({ seed: i + 1, avgGap })),
});

describe('paired comparison', () => {
  it('sign test: exact two-sided binomial tails', () => {
    expect(signTestP(5, 0)).toBeCloseTo(2 / 32, 15);
    expect(signTestP(0, 6)).toBeCloseTo(2 / 64, 15);
    expect(signTestP(4, 1)).toBeCloseTo((2 * (1 + 5)) / 32, 15);
    expect(signTestP(3, 3)).toBe(1);
    expect(signTestP(0, 0)).toBe(1);
    // n = 10, k = 2: 2 * (1 + 10 + 45) / 1024
    expect(signTestP(8, 2)).toBeCloseTo((2 * 56) / 1024, 15);
  });

  it('differences per seed, their mean inside its bootstrap interval, seeds without a gap skipped', () => {
    const raw = [row('Retrain', [0, 0, 0, 0, 0]), row('SalUn', [3, 2, 4, 3, 5]), row('InSalUn', [2, 2.5, 1, 1, null])];
    const [c] = pairedComparisons(raw, { reference: 'SalUn', rows: /InSalUn/, resamples: 2000, seed: 1 });
    expect(c.row).toBe('InSalUn');
    expect(c.seeds).toEqual([1, 2, 3, 4]);
    expect(c.differences).toEqual([-1, 0.5, -3, -2]);
    expect(c.mean).toBeCloseTo(-1.375, 12);
    expect(c.interval[0]).toBeLessThanOrEqual(c.mean);
    expect(c.interval[1]).toBeGreaterThanOrEqual(c.mean);
    expect(c.interval[0]).toBeGreaterThanOrEqual(-3);
    expect(c.interval[1]).toBeLessThanOrEqual(0.5);
    expect(c.sign).toEqual({ below: 3, above: 1, ties: 0, p: signTestP(3, 1) });
    // Seeded: the same interval again.
    expect(
      pairedComparisons(raw, { reference: 'SalUn', rows: /InSalUn/, resamples: 2000, seed: 1 })[0].interval,
    ).toEqual(c.interval);
  });

  it('tuned rows pair with the reference chosen by the same rule', () => {
    const raw = [
      row('SalUn [lr 0.01, ratio 0.5; gap]', [1, 1]),
      row('SalUn [lr 0.03, ratio 0.3; no-retrain]', [5, 5]),
      row('InSalUn contrastive [lr 0.01, ratio 0.5; no-retrain]', [4, 4]),
      row('InSalUn contrastive [lr 0.03, ratio 0.5; gap]', [2, 2]),
    ];
    const out = pairedComparisons(raw, { reference: 'SalUn', rows: /InSalUn/ });
    expect(out.map((c) => [c.row, c.reference, c.mean])).toEqual([
      ['InSalUn contrastive [lr 0.01, ratio 0.5; no-retrain]', 'SalUn [lr 0.03, ratio 0.3; no-retrain]', -1],
      ['InSalUn contrastive [lr 0.03, ratio 0.5; gap]', 'SalUn [lr 0.01, ratio 0.5; gap]', 1],
    ]);
    expect(() => pairedComparisons(raw, { reference: 'GA', rows: /x/ })).toThrow(/no row named GA/);
  });

  it('insalun paired DIR writes paired.md and paired.json; a folder without results is one line, exit 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'insalun-paired-'));
    const raw = [row('SalUn', [3, 2, 4, 3, 5]), row('InSalUn (zero)', [2, 1, 3, 2, 4])];
    await writeFile(join(dir, 'results.json'), JSON.stringify({ raw }));
    const r = await runCli('paired', dir, '--resamples', '500');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/InSalUn \(zero\).*SalUn.*5.*-1\.00.*\[-1\.00, -1\.00\].*5\/0\/0.*0\.063/);
    const json = JSON.parse(await readFile(join(dir, 'paired.json'), 'utf8'));
    expect(json.comparisons[0].differences).toEqual([-1, -1, -1, -1, -1]);
    expect(await readFile(join(dir, 'paired.md'), 'utf8')).toMatch(/\| InSalUn \(zero\) \| SalUn \|/);
    const missing = await runCli('paired', join(dir, 'nothing-here'));
    expect(missing.code).toBe(1);
    expect(missing.err.trim().split('\n')).toHaveLength(1);
    expect(missing.err).toMatch(/no such file \(is it a compare output folder\?\)/);
  });
});
