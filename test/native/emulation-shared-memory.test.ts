// The CUDA emulation's block-shared memory (INSALUN_SHARED, native/cuda/impl.cuh). On a GPU a block
// starts with garbage in its shared arrays; the emulation keeps each array in the OS thread's storage,
// where it would hold whatever the previous block left. Poisoned with NaN bits when each block first
// reaches the declaration, a kernel that reads before it writes shows as NaN instead of passing on
// values that happen to be right. Emulation builds only (INSALUN_ADDON).
import { describe, expect, it } from 'vitest';
import { addon } from '../helpers/backends.js';

const info = addon.backends();
const suite = info.cudaEmulated ? describe : describe.skip;
const poison = 0xffffffff; // every byte 0xff: a NaN float

suite(`CUDA emulation: block-shared memory${info.cudaEmulated ? '' : ' (skipped: not an emulation build)'}`, () => {
  it("every block starts with NaN in its shared arrays, never the previous block's values", () => {
    const saved = process.env.INSALUN_EMULATION_ORDER;
    try {
      for (const order of ['forward', 'reverse', 'shuffle:4']) {
        process.env.INSALUN_EMULATION_ORDER = order;
        for (const threads of [1, 64]) {
          const probe = addon.emulationSharedProbe!(6, threads);
          expect(probe.beforeWrite, `${order}, ${threads} threads`).toEqual(Array(6).fill(poison));
          // Reaching the declaration again in the same block keeps the block's own write.
          expect(probe.afterWrite, `${order}, ${threads} threads`).toEqual([1, 2, 3, 4, 5, 6]);
        }
      }
    } finally {
      if (saved === undefined) delete process.env.INSALUN_EMULATION_ORDER;
      else process.env.INSALUN_EMULATION_ORDER = saved;
    }
  });

  it('refuses sizes it cannot run, with one clear error', () => {
    expect(() => addon.emulationSharedProbe!(0, 4)).toThrow(/blocks and threads must be positive integers/);
    expect(() => addon.emulationSharedProbe!(2, 2000)).toThrow(/threads 1\.\.1024/);
  });
});
