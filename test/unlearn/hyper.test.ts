// Each method's hyperparameter schema: the defaults satisfy it; unknown keys, wrong types and values
// out of range are refused in one message; the methods receive typed values (augment a boolean).
import { afterAll, describe, expect, it } from 'vitest';
import { HYPER_SCHEMAS } from '../../src/unlearn/hyper.js';
import { hyperProblem, METHOD_DEFAULTS, METHOD_NAMES, resolveHyper, runUnlearning } from '../../src/unlearn/methods.js';
import { changedCount, context, fixture } from './fixture.js';

afterAll(async () => (await fixture()).cleanup());

describe('hyperparameter schemas', () => {
  it("every method's defaults satisfy its schema and name exactly its keys", () => {
    for (const m of METHOD_NAMES) {
      expect(HYPER_SCHEMAS[m].safeParse(METHOD_DEFAULTS[m]).success).toBe(true);
      expect(Object.keys(METHOD_DEFAULTS[m])).toEqual(Object.keys(HYPER_SCHEMAS[m].shape));
      expect(hyperProblem(m, {})).toBeNull();
    }
  });

  it('an unknown key is refused with the valid ones listed', () => {
    expect(hyperProblem('rl', { epoch: 3 })).toBe(
      "unknown hyperparameter 'epoch' for rl; valid: batchSize, momentum, weightDecay, augment, epochs, lr",
    );
    expect(hyperProblem('ssd', { lr: 0.1, epochs: 2 })).toBe(
      "unknown hyperparameter 'lr', 'epochs' for ssd; valid: alpha, lambda, batchSize",
    );
  });

  it('a wrong type is refused: booleans are booleans, numbers numbers', () => {
    expect(hyperProblem('ft', { augment: 0 })).toBe('hyperparameter augment of ft must be true or false, got 0');
    expect(hyperProblem('ft', { lr: '0.1' })).toBe("hyperparameter lr of ft must be a number >= 0, got '0.1'");
    expect(hyperProblem('ft', { epochs: true })).toBe(
      'hyperparameter epochs of ft must be a whole number >= 1, got true',
    );
    expect(hyperProblem('ft', { lr: undefined })).toBe('hyperparameter lr of ft must be a number >= 0, got undefined');
  });

  it('values out of their natural range are refused, every bad key in one message', () => {
    expect(hyperProblem('ft', { lr: -0.1, epochs: 0 })).toBe(
      'hyperparameter epochs of ft must be a whole number >= 1, got 0; hyperparameter lr of ft must be a number >= 0, got -0.1',
    );
    expect(hyperProblem('ft', { lr: Infinity })).toMatch(/lr of ft must be a number >= 0, got Infinity/);
    expect(hyperProblem('ft', { momentum: 1.5 })).toMatch(/momentum of ft must be a number in \[0, 1\]/);
    expect(hyperProblem('neggrad+', { beta: -0.5 })).toMatch(/beta of neggrad\+ must be a number in \[0, 1\]/);
    expect(hyperProblem('scrub', { T: 0 })).toMatch(/T of scrub must be a number > 0/);
    expect(hyperProblem('iu', { samples: 2.5 })).toMatch(/samples of iu must be a whole number >= 1/);
    // the edges of the ranges are valid
    expect(hyperProblem('scrub', { lr: 0, msteps: 0, alpha: 0 })).toBeNull();
    expect(hyperProblem('bs', { eps: 1 })).toBeNull();
  });

  it('resolveHyper applies overrides over the defaults, keeping their order and types', () => {
    const h = resolveHyper('scrub', { augment: false, T: 2 });
    expect(h).toEqual({ ...METHOD_DEFAULTS.scrub, augment: false, T: 2 });
    expect(Object.keys(h)).toEqual(Object.keys(METHOD_DEFAULTS.scrub));
    expect(() => resolveHyper('scrub', { augment: 'no' })).toThrow(
      "hyperparameter augment of scrub must be true or false, got 'no'",
    );
  });

  it('the method receives augment as a boolean: true (the default) and false train differently', async () => {
    const f = await fixture();
    const hyper = { epochs: 1, batchSize: 64 };
    const params = async (over: Record<string, boolean>) => {
      const ctx = context(f, { hyper: { ...hyper, ...over } });
      const run = await runUnlearning('ft', ctx);
      expect(typeof run.hyper.augment).toBe('boolean');
      return ctx.model.getParameters();
    };
    const byDefault = await params({});
    expect(changedCount(await params({ augment: true }), byDefault)).toBe(0);
    expect(changedCount(await params({ augment: false }), byDefault)).toBeGreaterThan(0);
  });
});
