// Compare configs are checked when read: each row's hyperparameters against its method's schema,
// so that a typo fails before anything is trained. The committed configs and the demo's pass.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { parseCompareConfig } from '../../src/experiment/compare.js';
import { DEMO_CONFIG } from '../../src/experiment/demo.js';

const examples = fileURLToPath(new URL('../../examples', import.meta.url));

it('the example configs and the demo config are valid', () => {
  const files = readdirSync(examples).filter((f) => f.endsWith('.json'));
  expect(files.length).toBeGreaterThan(0);
  for (const file of files) parseCompareConfig(JSON.parse(readFileSync(join(examples, file), 'utf8')), file);
  expect(parseCompareConfig(DEMO_CONFIG, 'demo')).toEqual(DEMO_CONFIG);
});

it("the demo's values are the ones examples/demo-tuning.json chose: that file is the demo config and a tuning block over each row", () => {
  const tuning = parseCompareConfig(
    JSON.parse(readFileSync(join(examples, 'demo-tuning.json'), 'utf8')),
    'demo-tuning',
  );
  const { tuning: block, name, ...rest } = tuning;
  const { name: _demoName, ...demo } = parseCompareConfig(DEMO_CONFIG, 'demo');
  expect(name).toBe('demo-tuning');
  expect(rest).toEqual(demo);
  expect(Object.keys(block?.grid ?? {}).sort()).toEqual(
    DEMO_CONFIG.methods
      .filter((m) => m.method !== 'retrain')
      .map((m) => m.name)
      .sort(),
  );
});

const withRow = (row: object) => ({
  methods: [
    { name: 'Retrain', method: 'retrain' },
    { name: 'X', ...row },
  ],
});

it("a row's unknown hyperparameter is refused, naming the row and the valid keys", () => {
  expect(() => parseCompareConfig(withRow({ method: 'rl', hyper: { epoch: 3 } }), 'c.json')).toThrow(
    "c.json: invalid compare config: methods.1.hyper: unknown hyperparameter 'epoch' for rl; valid: batchSize, momentum, weightDecay, augment, epochs, lr",
  );
  // valid for one method, unknown for another
  expect(() => parseCompareConfig(withRow({ method: 'ssd', hyper: { lr: 0.1 } }), 'c.json')).toThrow(
    /methods\.1\.hyper: unknown hyperparameter 'lr' for ssd; valid: alpha, lambda, batchSize/,
  );
});

it('wrong types and values out of range are refused; booleans are booleans', () => {
  expect(() => parseCompareConfig(withRow({ method: 'ft', hyper: { augment: 0 } }), 'c.json')).toThrow(
    /methods\.1\.hyper: hyperparameter augment of ft must be true or false, got 0/,
  );
  expect(() => parseCompareConfig(withRow({ method: 'ft', hyper: { lr: -1 } }), 'c.json')).toThrow(
    /lr of ft must be a number >= 0, got -1/,
  );
  expect(() => parseCompareConfig(withRow({ method: 'scrub', hyper: { msteps: 1.5 } }), 'c.json')).toThrow(
    /msteps of scrub must be a whole number >= 0, got 1.5/,
  );
  expect(
    parseCompareConfig(withRow({ method: 'ft', hyper: { augment: false, lr: 0 } }), 'c.json').methods[1].hyper,
  ).toEqual({ augment: false, lr: 0 });
});
