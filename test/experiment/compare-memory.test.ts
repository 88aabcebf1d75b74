// A long `compare` must not run a GPU out of memory: every row releases what it made (its model,
// the model copies its method makes) when it is done, and every seed its data, whatever V8's
// collector does. Over the CUDA emulation, which counts the device bytes held (emulationCounters),
// every row of a seed ends at one level (the seed's data held) and every seed at the level before
// the experiment. Emulation builds only (INSALUN_ADDON).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCompareConfig, runCompare } from '../../src/experiment/compare.js';
import { defaultCompute, loadAddon } from '../../src/native/index.js';

const addon = loadAddon();
const emulated = addon.backends().cudaEmulated;
const counters = () => addon.emulationCounters!();

// Tiny sizes: the emulation runs each GPU thread as a fiber. The methods cover the model copies:
// retrain's initial weights, SCRUB's teacher, BE's widened model, the IG mask's 'init' baseline.
const epoch = { epochs: 1, batchSize: 16, augment: false };
const config = parseCompareConfig(
  {
    name: 'memory',
    dataset: 'synthetic',
    synthetic: { trainSize: 48, testSize: 16, imageSize: 8, seed: 3 },
    width: 4,
    train: { epochs: 1, batchSize: 16, schedule: 'constant', augment: false },
    forget: 'random:8',
    seeds: [1, 2],
    includeOriginal: true,
    methods: [
      { name: 'Retrain', method: 'retrain' },
      { name: 'FT', method: 'ft', hyper: epoch },
      { name: 'RL', method: 'rl', hyper: epoch },
      { name: 'GA', method: 'ga', hyper: epoch },
      {
        name: 'SalUn',
        method: 'rl',
        hyper: epoch,
        mask: { method: 'grad', ratio: 0.5, batchSize: 16, augment: false },
      },
      {
        name: 'InSalUn',
        method: 'rl',
        hyper: epoch,
        mask: { method: 'ig', ratio: 0.5, steps: 2, baseline: 'init', batchSize: 16 },
      },
      { name: 'SCRUB', method: 'scrub', hyper: { ...epoch, msteps: 1 } },
      { name: 'BE', method: 'be', hyper: epoch },
    ],
  },
  'memory test config',
);

(emulated ? describe : describe.skip)(
  `compare over the CUDA emulation${emulated ? '' : ' (skipped: not an emulation build, no device memory to count)'}`,
  () => {
    it('gives back what each row made, and after each seed all device memory, for every method and seed', async () => {
      const out = await mkdtemp(join(tmpdir(), 'insalun-memory-'));
      const before = counters();
      const rows: { seed: number; row: string; liveDeviceBytes: number; allocations: number }[] = [];
      const seeds: { seed: number; liveDeviceBytes: number }[] = [];
      let allocations = before.allocations;
      await runCompare(config, out, defaultCompute('cuda'), undefined, {
        onRowDone: ({ seed, name }) => {
          const now = counters();
          rows.push({
            seed,
            row: `seed ${seed} ${name}`,
            liveDeviceBytes: now.liveDeviceBytes,
            allocations: now.allocations - allocations,
          });
          allocations = now.allocations;
        },
        onSeedDone: (seed) => seeds.push({ seed, liveDeviceBytes: counters().liveDeviceBytes }),
      });
      console.log(
        `live device bytes before the experiment: ${before.liveDeviceBytes}; after each row:\n` +
          rows.map((r) => `  ${r.row}: ${r.liveDeviceBytes} (${r.allocations} allocations in the row)`).join('\n') +
          `\nafter each seed: ${seeds.map((s) => s.liveDeviceBytes).join(', ')}; peak: ${counters().peakDeviceBytes}`,
      );
      expect(rows.map((r) => r.row)).toEqual(
        [1, 2].flatMap((seed) =>
          [...config.methods.map((m) => m.name), 'Original'].map((name) => `seed ${seed} ${name}`),
        ),
      );
      for (const r of rows) {
        expect(r.allocations, r.row).toBeGreaterThan(0); // the row did allocate: the level is earned
        // the seed's data (uploaded once, for its first row) and nothing more
        const first = rows.find((f) => f.seed === r.seed)!;
        expect(first.liveDeviceBytes, r.row).toBeGreaterThan(before.liveDeviceBytes);
        expect(r.liveDeviceBytes, r.row).toBe(first.liveDeviceBytes);
      }
      expect(seeds).toEqual([1, 2].map((seed) => ({ seed, liveDeviceBytes: before.liveDeviceBytes })));
    }, 300_000);
  },
);
