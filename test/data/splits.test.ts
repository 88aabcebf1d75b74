import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../src/data/dataset.js';
import {
  type ForgetContext,
  parseForgetSpec,
  randomLabels,
  resolveForgetSet,
  splitValidation,
  testIndicesFor,
} from '../../src/data/splits.js';

/** 10 classes; class k has 20 + 5k images, interleaved as in a shuffled file. */
function makeLabels(): Int32Array {
  const labels: number[] = [];
  for (let k = 0; k < 10; k++) for (let j = 0; j < 20 + 5 * k; j++) labels.push(k);
  // A fixed interleaving so classes are not contiguous in "file order".
  return Int32Array.from(
    labels
      .map((l, i) => ({ l, key: (i * 7919) % labels.length }))
      .sort((a, b) => a.key - b.key)
      .map((e) => e.l),
  );
}

const labels = makeLabels();
const countOf = (indices: Int32Array, k: number) => indices.filter((i) => labels[i] === k).length;
const isAscending = (a: Int32Array) => a.every((v, i) => i === 0 || a[i - 1] < v);

function context(seed = 1): ForgetContext {
  const { pool, val } = splitValidation(labels, 10, 0.1, seed);
  return { labels, pool, val, classes: 10, seed };
}

describe('splitValidation', () => {
  it('holds out floor(10%) of each class and keeps the rest as the pool', () => {
    const { pool, val } = splitValidation(labels, 10, 0.1, 0);
    for (let k = 0; k < 10; k++) {
      const size = 20 + 5 * k;
      expect(countOf(val, k)).toBe(Math.floor(size / 10)); // 2,2,3,3,4,4,5,5,6,6
      expect(countOf(pool, k)).toBe(size - Math.floor(size / 10));
    }
    expect(isAscending(pool) && isAscending(val)).toBe(true);
    const all = [...pool, ...val].sort((a, b) => a - b);
    expect(all).toEqual(Array.from(labels.keys()));
  });

  it('is reproducible from the seed and changes with it', () => {
    const a = splitValidation(labels, 10, 0.1, 5);
    expect(splitValidation(labels, 10, 0.1, 5)).toEqual(a);
    expect(Array.from(splitValidation(labels, 10, 0.1, 6).val)).not.toEqual(Array.from(a.val));
  });

  it('rounds products like 0.29 * 100 to the intended 29', () => {
    const hundred = new Int32Array(100);
    expect(splitValidation(hundred, 1, 0.29, 0).val.length).toBe(29);
  });

  it('fraction 0 holds out nothing', () => {
    const { pool, val } = splitValidation(labels, 10, 0, 3);
    expect(val.length).toBe(0);
    expect(Array.from(pool)).toEqual(Array.from(labels.keys()));
  });

  it('refuses a bad fraction and out-of-range labels', () => {
    expect(() => splitValidation(labels, 10, 1, 0)).toThrow(DataError);
    expect(() => splitValidation(labels, 10, -0.1, 0)).toThrow(DataError);
    expect(() => splitValidation(labels, 9, 0.1, 0)).toThrow(/label 9 at index \d+ is outside 0\.\.8/);
  });
});

describe('parseForgetSpec', () => {
  it('parses every form', () => {
    expect(parseForgetSpec('random:4500')).toEqual({ kind: 'random', count: 4500, unit: 'images' });
    expect(parseForgetSpec('random:10%')).toEqual({ kind: 'random', count: 10, unit: 'percent' });
    expect(parseForgetSpec('class:3')).toEqual({ kind: 'class', classIndex: 3, count: null });
    expect(parseForgetSpec('class:0:25')).toEqual({ kind: 'class', classIndex: 0, count: 25 });
    expect(parseForgetSpec('file:/a/b:c.json')).toEqual({ kind: 'file', path: '/a/b:c.json' });
  });

  it.each([
    ['random', /count is missing/],
    ['random:', /count is missing/],
    ['random:0', /count must be at least 1/],
    ['random:-3', /'-3' is not a whole number/],
    ['random:1.5', /'1.5' is not a whole number/],
    ['random:0%', /percentage must be in \(0, 100\]/],
    ['random:150%', /percentage must be in \(0, 100\]/],
    ['class:x', /class 'x' is not a whole number/],
    ['class:', /class is missing/],
    ['class:1:2:3', /too many fields/],
    ['class:1:0', /count must be at least 1/],
    ['file:', /missing path/],
    ['everything', /unknown kind 'everything'.*random:N/],
  ])('refuses %s', (spec, message) => {
    expect(() => parseForgetSpec(spec)).toThrow(DataError);
    expect(() => parseForgetSpec(spec)).toThrow(message);
  });
});

describe('resolveForgetSet', () => {
  it('random:N draws N pool images, reproducibly from the seed', () => {
    const ctx = context(1);
    const a = resolveForgetSet('random:30', ctx);
    expect(a.forget.length).toBe(30);
    expect(a.forgetClass).toBeNull();
    expect(isAscending(a.forget) && isAscending(a.retain)).toBe(true);
    const pool = new Set(ctx.pool);
    expect(a.forget.every((i) => pool.has(i))).toBe(true);
    expect([...a.forget, ...a.retain].sort((x, y) => x - y)).toEqual(Array.from(ctx.pool));
    expect(resolveForgetSet('random:30', ctx)).toEqual(a);
    expect(Array.from(resolveForgetSet('random:30', { ...ctx, seed: 2 }).forget)).not.toEqual(Array.from(a.forget));
  });

  it('random:P% takes that share of the pool', () => {
    const ctx = context();
    expect(resolveForgetSet('random:10%', ctx).forget.length).toBe(Math.round(ctx.pool.length / 10));
    expect(() => resolveForgetSet(`random:${ctx.pool.length + 1}`, ctx)).toThrow(/the training pool holds/);
  });

  it('class:C forgets every pool image of class C and marks the class', () => {
    const ctx = context();
    const { forget, retain, forgetClass } = resolveForgetSet('class:4', ctx);
    expect(forgetClass).toBe(4);
    expect(Array.from(forget)).toEqual(Array.from(ctx.pool.filter((i) => labels[i] === 4)));
    expect(countOf(retain, 4)).toBe(0);
    expect(retain.length).toBe(ctx.pool.length - forget.length);
  });

  it('class:C:N forgets N images of class C; the class is marked only when none is left', () => {
    const ctx = context();
    const some = resolveForgetSet('class:2:7', ctx);
    expect(some.forget.length).toBe(7);
    expect(countOf(some.forget, 2)).toBe(7);
    expect(some.forgetClass).toBeNull();
    expect(resolveForgetSet('class:2:7', ctx)).toEqual(some);
    const inPool = countOf(ctx.pool, 2);
    expect(resolveForgetSet(`class:2:${inPool}`, ctx).forgetClass).toBe(2);
    expect(() => resolveForgetSet(`class:2:${inPool + 1}`, ctx)).toThrow(`holds only ${inPool} images of class 2`);
    expect(() => resolveForgetSet('class:10', ctx)).toThrow('class 10 is outside 0..9');
  });

  describe('file specs', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'insalun-forget-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });
    const write = async (name: string, text: string) => {
      const path = join(dir, name);
      await writeFile(path, text);
      return path;
    };

    it('reads a JSON array and a one-per-line list alike', async () => {
      const ctx = context();
      const chosen = [ctx.pool[9], ctx.pool[0], ctx.pool[40]];
      const json = await write('f.json', JSON.stringify(chosen));
      const lines = await write('f.txt', `# forget these\n${chosen[0]}\n\n  ${chosen[1]}\r\n${chosen[2]} # last\n`);
      const fromJson = resolveForgetSet(`file:${json}`, ctx);
      expect(Array.from(fromJson.forget)).toEqual([...chosen].sort((a, b) => a - b));
      expect(fromJson.forgetClass).toBeNull();
      expect(fromJson.retain.length).toBe(ctx.pool.length - 3);
      expect(resolveForgetSet({ kind: 'file', path: lines }, ctx)).toEqual(fromJson);
    });

    it('refuses an index of the validation hold-out, saying so', async () => {
      const ctx = context();
      const path = await write('val.json', JSON.stringify([ctx.pool[0], ctx.val[3]]));
      expect(() => resolveForgetSet(`file:${path}`, ctx)).toThrow(
        `forget index file ${path}: index ${ctx.val[3]} is in the validation hold-out (seed 1); only training-pool images can be forgotten`,
      );
    });

    it('refuses out-of-range indices, duplicates, non-integers, empty and missing files', async () => {
      const ctx = context();
      const n = labels.length;
      const cases: [string, string, RegExp][] = [
        [
          'range.json',
          `[${ctx.pool[0]}, ${n}]`,
          new RegExp(`index ${n} is out of range \\(the training set has ${n} images`),
        ],
        ['neg.txt', '-1\n', /index -1 is out of range/],
        ['dup.txt', `${ctx.pool[2]}\n${ctx.pool[2]}\n`, new RegExp(`index ${ctx.pool[2]} appears more than once`)],
        ['float.json', '[1.5]', /element 0 \(1.5\) is not an integer/],
        ['word.txt', '3\nfour\n', /line 2 \('four'\) is not an integer/],
        ['obj.json', '[{"a": 1}]', /element 0 .* is not an integer/],
        ['bad.json', '[1, 2', /invalid JSON/],
        ['empty.txt', '\n# nothing\n', /holds no indices/],
      ];
      for (const [name, text, message] of cases) {
        const path = await write(name, text);
        expect(() => resolveForgetSet(`file:${path}`, ctx), name).toThrow(message);
      }
      expect(() => resolveForgetSet(`file:${join(dir, 'absent.txt')}`, ctx)).toThrow(/cannot read \(ENOENT\)/);
    });
  });
});

describe('testIndicesFor', () => {
  it('keeps every test image, or those not of the forgotten class', () => {
    const test = Int32Array.from([0, 3, 1, 3, 2]);
    expect(Array.from(testIndicesFor(test, null))).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(testIndicesFor(test, 3))).toEqual([0, 2, 4]);
  });
});

describe('randomLabels', () => {
  it('is uniform over [0, classes), reproducible, and new each epoch', () => {
    const a = randomLabels(20000, 10, 7, 0);
    expect(a).toBeInstanceOf(Int32Array);
    expect(a.length).toBe(20000);
    const counts = new Array(10).fill(0);
    for (const l of a) counts[l]++;
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(250);
    expect(randomLabels(20000, 10, 7, 0)).toEqual(a);
    const nextEpoch = randomLabels(20000, 10, 7, 1);
    const same = nextEpoch.filter((l, i) => l === a[i]).length;
    expect(same / 20000).toBeCloseTo(0.1, 1); // independent draws agree 1 time in 10
    expect(randomLabels(5, 1, 0, 0)).toEqual(new Int32Array(5));
  });
});
