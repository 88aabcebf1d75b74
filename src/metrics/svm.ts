// libsvm's C-SVC (the solver scikit-learn's SVC runs), through libsvm-js's WebAssembly build.

import { createRequire } from 'node:module';

// The parts of libsvm-js's untyped API used here.
interface LibsvmModel {
  train(samples: number[][], labels: number[]): void;
  predict(samples: number[][]): number[];
  free(): void;
}
interface LibsvmClass {
  new (options: Record<string, unknown>): LibsvmModel;
  SVM_TYPES: { C_SVC: string };
  KERNEL_TYPES: { RBF: string };
}

let loading: Promise<LibsvmClass> | undefined;

/**
 * Loads the wasm build once. Emscripten's loader first tries to fetch() the .wasm file by path,
 * which Node's fetch rejects, then prints "wasm streaming compile failed ... falling back" and reads
 * the file instead. Hiding fetch during the synchronous require makes it take the file path directly.
 */
function loadLibsvm(): Promise<LibsvmClass> {
  if (loading === undefined) {
    const require = createRequire(import.meta.url);
    const fetchProperty = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
    if (fetchProperty?.configurable) delete (globalThis as { fetch?: unknown }).fetch;
    try {
      loading = require('libsvm-js') as Promise<LibsvmClass>;
    } finally {
      if (fetchProperty?.configurable) Object.defineProperty(globalThis, 'fetch', fetchProperty);
    }
  }
  return loading;
}

export interface RbfSvcOptions {
  cost: number;
  gamma: number;
}

/** Fits an RBF-kernel C-SVC on (trainX, trainY) and returns its predicted labels for testX. */
export async function fitPredictRbfSvc(
  trainX: number[][],
  trainY: number[],
  testX: number[][],
  { cost, gamma }: RbfSvcOptions,
): Promise<number[]> {
  const SVM = await loadLibsvm();
  // quiet must be explicit: libsvm-js only passes -q when it is set, whatever its docs say.
  // Tolerance, shrinking and the rest stay at libsvm's defaults, which are also scikit-learn's.
  const svm = new SVM({ type: SVM.SVM_TYPES.C_SVC, kernel: SVM.KERNEL_TYPES.RBF, cost, gamma, quiet: true });
  try {
    svm.train(trainX, trainY);
    return svm.predict(testX);
  } finally {
    svm.free(); // the model lives in wasm memory, which the garbage collector never reclaims
  }
}
