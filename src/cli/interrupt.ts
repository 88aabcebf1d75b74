// Ctrl-C handling: the running model stops at the next batch boundary; a second Ctrl-C exits.
import type { NativeModel } from '../native/index.js';

/** Ctrl-C asks the running model to stop at the next batch boundary; a second Ctrl-C exits. */
export function stopOnInterrupt(): {
  attach(model: NativeModel): void;
  readonly interrupted: boolean;
  release(): void;
} {
  let current: NativeModel | null = null;
  let interrupted = false;
  const handler = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('\ninterrupted: stopping at the next batch boundary (Ctrl-C again to quit now)\n');
    current?.requestStop();
  };
  process.on('SIGINT', handler);
  return {
    attach(model) {
      current = model;
      if (interrupted) model.requestStop();
    },
    get interrupted() {
      return interrupted;
    },
    release() {
      process.off('SIGINT', handler);
    },
  };
}

/** stopOnInterrupt already attached to one model. */
export function stopOnInterruptLite(model: NativeModel) {
  const handle = stopOnInterrupt();
  handle.attach(model);
  return handle;
}
