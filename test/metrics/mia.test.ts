import { afterEach, describe, expect, it, vi } from 'vitest';
import { type LogitSet, MIA_KINDS, miaAll, miaEfficacy, shadowSets } from '../../src/metrics/mia.js';

const CLASSES = 10;

/**
 * Samples of label 0 whose true-class probability runs evenly from `lo` to `hi`. The rest goes
 * half to class 1 and half spread over the others, so low-confidence samples are also misclassified
 * and every feature kind (correctness too) separates high from low confidence.
 */
function samples(count: number, lo: number, hi: number): LogitSet {
  const logits = new Float32Array(count * CLASSES);
  for (let i = 0; i < count; i++) {
    const p = count === 1 ? lo : lo + ((hi - lo) * i) / (count - 1);
    const rest = (1 - p) / 2;
    const row = [p, rest, ...Array<number>(CLASSES - 2).fill(rest / (CLASSES - 2))];
    logits.set(row.map(Math.log), i * CLASSES);
  }
  return { logits, labels: new Int32Array(count) };
}

function concat(a: LogitSet, b: LogitSet): LogitSet {
  const logits = new Float32Array(a.logits.length + b.logits.length);
  logits.set(a.logits);
  logits.set(b.logits, a.logits.length);
  return { logits, labels: new Int32Array(a.labels.length + b.labels.length) };
}

const shadow = { shadowTrain: samples(200, 0.95, 0.999), shadowTest: samples(200, 0.05, 0.15), classes: CLASSES };

afterEach(() => {
  vi.restoreAllMocks();
});

describe('miaEfficacy', () => {
  it('loads libsvm without printing anything', async () => {
    const printed: unknown[] = [];
    const record = (...args: unknown[]) => void printed.push(args);
    vi.spyOn(console, 'warn').mockImplementation(record);
    vi.spyOn(console, 'error').mockImplementation(record);
    vi.spyOn(console, 'log').mockImplementation(record);
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => {
      printed.push(chunk);
      return true;
    });
    await miaEfficacy({ ...shadow, target: samples(5, 0.97, 0.99) });
    expect(printed).toEqual([]);
  });

  it('is 0% for targets that look like members and 100% for targets that look like non-members', async () => {
    expect(await miaEfficacy({ ...shadow, target: samples(50, 0.9, 0.999) }, 'confidence')).toBe(0);
    expect(await miaEfficacy({ ...shadow, target: samples(50, 0.02, 0.3) }, 'confidence')).toBe(100);
  });

  it('is the exact share of non-member-like targets in a mixed set', async () => {
    const target = concat(samples(7, 0.05, 0.2), samples(13, 0.93, 0.99));
    expect(await miaEfficacy({ ...shadow, target }, 'confidence')).toBe(35);
  });

  it('works on every feature kind', async () => {
    const memberLike = await miaAll({ ...shadow, target: samples(30, 0.93, 0.999) });
    const nonMemberLike = await miaAll({ ...shadow, target: samples(30, 0.04, 0.2) });
    for (const kind of MIA_KINDS) {
      expect(memberLike[kind], kind).toBe(0);
      expect(nonMemberLike[kind], kind).toBe(100);
    }
  });

  it('refuses empty sets', async () => {
    await expect(miaEfficacy({ ...shadow, target: samples(0, 0, 0) })).rejects.toThrow(/non-empty/);
  });
});

describe('shadowSets', () => {
  const sets = (retain: number[], test: number[]) => {
    const { members, nonMembers } = shadowSets(Int32Array.from(retain), Int32Array.from(test));
    return { members: Array.from(members), nonMembers: Array.from(nonMembers) };
  };

  it('takes the first |test| retain indices in dataset order and the whole test set', () => {
    expect(sets([2, 5, 7, 11, 12], [0, 1, 2])).toEqual({ members: [2, 5, 7], nonMembers: [0, 1, 2] });
    expect(sets([9, 1, 4], [3, 0])).toEqual({ members: [1, 4], nonMembers: [3, 0] });
  });

  it('takes the first |retain| test indices in dataset order when the retain set is smaller', () => {
    expect(sets([8, 3], [6, 1, 4, 0])).toEqual({ members: [3, 8], nonMembers: [0, 1] });
  });
});
