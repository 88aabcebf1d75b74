// The contract between the TypeScript layer and the native addon (native/addon/). Every long call
// returns a Promise and runs off the JavaScript thread; `onBatch` callbacks arrive on the JS thread
// between batches.

export type DeviceName = 'cpu' | 'cuda';
export type MaskMode = 'grad' | 'hard';

export interface ModelOptions {
  classes: number;
  inChannels: number;
  width: number; // base width: 64 is the paper's ResNet-18
  device: DeviceName;
  image?: number; // input height = width (default 32; any size >= 8, e.g. 28 for MNIST)
  /** Convolution arithmetic: fp32 (strict, the CPU's only mode), tf32 (CUDA tensor cores). */
  precision?: Precision;
  /** Capture a training step once per epoch and replay it (CUDA graphs); default true. */
  stepCapture?: boolean;
  /** Test aid: the CPU backend imitates step capture on the host ('refuse': every capture fails; 'refuse-second': only the second). */
  emulateCapture?: boolean | 'refuse' | 'refuse-second';
}

export type Precision = 'fp32' | 'tf32' | 'bf16';

/** One entry of the torchvision-style state_dict, in state_dict order. */
export interface TensorEntry {
  name: string;
  shape: number[];
  /** parameter: trained float32; buffer: running statistic float32; counter: int64 num_batches_tracked */
  kind: 'parameter' | 'buffer' | 'counter';
}

export interface SgdOptions {
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov?: boolean;
  l1?: number; // L1 penalty coefficient: adds l1 * sign(w) to the gradient (l1-sparse)
}

/** Progress over the batches since the previous report. */
export interface BatchProgress {
  batch: number; // batches done
  batches: number;
  loss: number; // mean loss over the images since the previous report
  correct: number; // correct predictions among them
  count: number; // how many images
}

export interface EpochOptions {
  indices: Int32Array; // dataset positions, in the order to visit them (caller shuffles)
  labels?: Int32Array; // per-position label override (same length as indices), e.g. random labels
  batchSize: number;
  augment: boolean;
  seed: number; // augmentation key, with epoch and sample index
  epoch: number;
  lossScale?: number; // 1 (default) minimises CE, -1 is gradient ascent
  sgd: SgdOptions;
  /** Call onBatch every this many batches (default 1); each call costs a device-to-host read. */
  progressEvery?: number;
  onBatch?: (p: BatchProgress) => void;
}

export interface EpochResult {
  loss: number; // mean over images of the per-batch mean loss (unscaled CE)
  correct: number;
  count: number;
  stopped: boolean; // requestStop() was honoured at a batch boundary
  replayedSteps: number; // steps run by replaying a captured step (CUDA graphs)
}

export interface GradientOptions {
  indices: Int32Array;
  labels?: Int32Array;
  batchSize: number;
  train: boolean; // BN mode: false = running statistics (masks), true = batch statistics
  augment: boolean;
  seed: number;
  epoch: number;
  lossScale?: number;
  squared?: boolean; // accumulate the square of each batch gradient instead (SSD importances)
}

export interface IntegratedGradientOptions {
  indices: Int32Array;
  batchSize: number;
  baseline: Float32Array; // flat parameters of theta'
  nodes: number[]; // path points a_k in [0, 1]
  weights: number[]; // quadrature weights w_k
  onPoint?: (p: { k: number; of: number }) => void; // after each path point
}

export interface IntegratedGradientResult {
  ig: Float32Array; // flat, per parameter: (theta - theta') * sum_k w_k dL/dtheta(path point k)
  lossAtModel: number; // L(theta): sum over forget batches of the batch-mean CE
  lossAtBaseline: number; // L(theta')
}

/**
 * Models and datasets hold native memory (on the GPU, for the CUDA backend) that V8 is told of but
 * frees only when it collects the object: dispose() (or `using`) frees it at once. Idempotent;
 * afterwards every use throws 'this model was disposed' / 'this dataset was disposed'. Refused,
 * with an error, while work that uses the object (trainEpoch, predict, ...) is in flight.
 */
export interface NativeDisposable extends Disposable {
  dispose(): void;
  readonly disposed: boolean;
  /** The native bytes held, as last told to V8 (after construction, setMask and each settled call); 0 once disposed. */
  readonly nativeBytes: number;
}

export interface NativeDataset extends NativeDisposable {
  readonly count: number;
}

/** After dispose(), `device` still answers and requestStop()/clearStop() do nothing harmful. */
export interface NativeModel extends NativeDisposable {
  readonly device: DeviceName;
  readonly precision: Precision;
  /** Whether training epochs capture and replay their steps (on and supported by the backend). */
  readonly stepCapture: boolean;
  /** Why the last pass that tried to capture its step could not ('' when it could); that pass ran eagerly. */
  readonly captureError: string;
  readonly parameterCount: number; // scalars in the flat parameter vector
  tensors(): TensorEntry[];
  getTensor(name: string): Float32Array | BigInt64Array;
  setTensor(name: string, data: Float32Array | BigInt64Array): void;
  /** PyTorch default initialisation, deterministic from the seed. */
  initialize(seed: number): void;
  /** All parameters (kind 'parameter') concatenated in state_dict order. */
  getParameters(): Float32Array;
  setParameters(flat: Float32Array): void;
  /** Zeroes the momentum buffers (next step is a "first step" in PyTorch's sense). */
  resetOptimizer(): void;
  getOptimizerState(): { momentum: Float32Array; firstStep: boolean };
  setOptimizerState(state: { momentum: Float32Array; firstStep: boolean }): void;
  /** flat 0/1 mask over the parameters, or null to clear it. */
  setMask(mask: Float32Array | null, mode: MaskMode): void;

  trainEpoch(data: NativeDataset, opts: EpochOptions): Promise<EpochResult>;
  /** Eval-mode logits [indices.length, classes]. */
  predict(data: NativeDataset, indices: Int32Array, batchSize: number): Promise<Float32Array>;
  /** Sum over batches of the gradient of lossScale * batch-mean CE (flat, parameter order). */
  gradient(data: NativeDataset, opts: GradientOptions): Promise<Float32Array>;
  integratedGradients(data: NativeDataset, opts: IntegratedGradientOptions): Promise<IntegratedGradientResult>;
  /** Eval-mode predictions on one-step FGSM images (step eps in [0,1] pixel units, clamped). */
  fgsmPredict(data: NativeDataset, indices: Int32Array, eps: number, batchSize: number): Promise<Int32Array>;

  /** Generic step for custom losses: forward one batch (train or eval BN), keep activations. */
  forwardBatch(
    data: NativeDataset,
    indices: Int32Array,
    opts: { train: boolean; augment: boolean; seed: number; epoch: number },
  ): Promise<Float32Array>;
  /** Backward of the last forwardBatch from dL/dlogits; accumulates into the gradient buffer. */
  backwardBatch(dlogits: Float32Array): Promise<void>;
  zeroGradients(): void;
  /** One SGD step from the gradient buffer (masked as set by setMask). */
  step(sgd: SgdOptions): void;

  requestStop(): void;
  clearStop(): void;
}

export interface NativeAddon {
  Model: new (opts: ModelOptions) => NativeModel;
  Dataset: new (
    device: DeviceName,
    images: Uint8Array,
    labels: Int32Array,
    shape: { n: number; c: number; h: number; w: number },
    mean: number[],
    std: number[],
  ) => NativeDataset;
  backends(): {
    cpu: boolean;
    cuda: boolean;
    cudaWhy: string;
    cpuThreads: number;
    /** The instruction set the CPU backend's vector kernels run (INSALUN_CPU_ISA picks another this CPU has). */
    cpuIsa: 'avx2' | 'avx512' | 'generic';
    /** Every instruction set this CPU can run the kernels in, narrowest first. */
    cpuIsas: ('avx2' | 'avx512' | 'generic')[];
    cudaBuilt: boolean;
    /** How this addon file was built: CMake's -march (node-gyp's build: 'native'); CUDA builds add the GPU
     * architectures, the cuDNN headers' version (the oldest cuDNN it accepts) and the CUDA runtime's. */
    build: { cpuArch: string; cudaArchs?: string; cudnnHeaders?: string; cudaRuntime?: string };
    /** The CUDA backend runs over the CPU emulation of CUDA (a test build): results are real, timings are not. */
    cudaEmulated: boolean;
    /** Emulation builds: the block and thread order INSALUN_EMULATION_ORDER picks (forward, reverse, shuffle:SEED). */
    cudaEmulationOrder?: string;
  };
  /** CUDA builds: driver, runtime, cuDNN (version, file, how it was found, or exactly why it cannot be used and the
   * fix) and GPUs, one per line; '' for a CPU-only build. Loads cuDNN, so only doctor and the device check call it. */
  cudaReport(): string;
  /** The bytes of native memory V8 has been told of in this process (Models and Datasets add theirs while they hold it). */
  externalMemory(): number;
  /** Emulation builds only: the order the emulator ran the blocks of a grid and the threads of block 0 in. */
  emulationTrace?(grid: number, threads: number, barrier: boolean): { blocks: number[]; threads: number[] };
  /** Emulation builds only: per block, the float bits read from a block-shared array before the block wrote it, and the value read back after. */
  emulationSharedProbe?(blocks: number, threads: number): { beforeWrite: number[]; afterWrite: number[] };
  /** Emulation builds only: what the emulated CUDA runtime has done since the addon loaded (native/cuda_emulation/counters.h). */
  emulationCounters?(): {
    synchronizations: number;
    copiesToDevice: number;
    copiesToHost: number;
    allocations: number;
    kernelsRun: number;
    graphLaunches: number;
    graphInstantiations: number;
    graphUpdates: number;
    /** Device memory held now (allocated minus freed), and the most held since the addon loaded. */
    liveDeviceBytes: number;
    peakDeviceBytes: number;
  };
  /** Per-kernel timings of one training step's pieces (see native/core/kernel_bench.h). */
  benchKernels(
    device: DeviceName,
    o: {
      batch?: number;
      width?: number;
      image?: number;
      classes?: number;
      inChannels?: number;
      precision?: Precision;
      minSeconds?: number;
    },
  ): Promise<KernelTimingRow[]>;
  /** Op-level access to one backend, for the conformance tests (not a hot path). */
  ops(device: DeviceName, o?: { precision?: Precision }): BackendOps;
}

type F32 = Float32Array;
export interface ConvShapeArg {
  n: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
}
export interface NormShapeArg {
  n: number;
  c: number;
  hw: number;
}

/** The backend interface (native/core/backend.h) on typed arrays. */
export interface BackendOps {
  device: string;
  conv2dForward(s: ConvShapeArg, x: F32, w: F32): F32;
  /** With `dx`, the gradient is added to it (accumulate mode). */
  conv2dBackwardData(s: ConvShapeArg, dy: F32, w: F32, dx?: F32): F32;
  conv2dBackwardFilter(s: ConvShapeArg, x: F32, dy: F32): F32;
  /** y = relu?(eval-mode batch norm of conv2dForward(s, x, w) + residual?): the inference forward's op. */
  conv2dForwardBnEval(
    s: ConvShapeArg,
    x: F32,
    w: F32,
    gamma: F32,
    beta: F32,
    runningMean: F32,
    runningVar: F32,
    o: { eps: number; residual?: F32; relu?: boolean },
  ): F32;
  bnForward(
    s: NormShapeArg,
    x: F32,
    gamma: F32,
    beta: F32,
    runningMean: F32,
    runningVar: F32,
    o: { train: boolean; momentum: number; eps: number; residual?: F32; relu?: boolean },
  ): { y: F32; saveMean: F32; saveInvstd: F32; runningMean: F32; runningVar: F32 };
  /** keepGated (needs reluOut): also return dy gated by the ReLU, written to a buffer of its own or over dy. */
  bnBackward(
    s: NormShapeArg,
    x: F32,
    dy: F32,
    gamma: F32,
    saveMean: F32,
    saveInvstd: F32,
    train: boolean,
    reluOut?: F32,
    keepGated?: 'separate' | 'in-place',
  ): { dx: F32; dgamma: F32; dbeta: F32; gatedDy?: F32 };
  reluForward(x: F32): F32;
  reluBackward(y: F32, dy: F32): F32;
  /** x stored as activations and read back: identity in fp32; bf16 rounding (and the NHWC round trip, given a shape) in bf16. */
  roundTripActivations(x: F32, shape?: NormShapeArg): F32;
  axpy(alpha: number, x: F32, y: F32): F32;
  lerp(x0: F32, x1: F32, alpha: number): F32;
  mulDiff(x1: F32, x0: F32, y: F32): F32;
  sum(x: F32): number;
  avgpoolForward(s: NormShapeArg, x: F32): F32;
  avgpoolBackward(s: NormShapeArg, dy: F32): F32;
  linearForward(s: { n: number; in: number; out: number }, x: F32, w: F32, b: F32): F32;
  linearBackward(s: { n: number; in: number; out: number }, x: F32, w: F32, dy: F32): { dx: F32; dw: F32; db: F32 };
  softmaxXent(
    n: number,
    classes: number,
    logits: F32,
    labels: Int32Array,
    scale: number,
  ): { dlogits: F32; lossSum: number; correct: number };
  gatherBatch(
    images: Uint8Array,
    labels: Int32Array,
    shape: { n: number; c: number; h: number; w: number },
    mean: F32,
    std: F32,
    indices: Int32Array,
    o: { augment: boolean; seed: number; epoch: number; pad?: number; labelOverride?: Int32Array },
  ): { x: F32; labels: Int32Array };
  sgdStep(
    o: {
      lr: number;
      momentum: number;
      weightDecay: number;
      nesterov?: boolean;
      l1?: number;
      maskMode?: 'none' | 'grad' | 'hard';
      firstStep: boolean;
    },
    w: F32,
    g: F32,
    buf: F32,
    mask?: F32,
  ): { w: F32; buf: F32 };
}

export interface KernelTimingRow {
  group: 'peak' | 'conv' | 'batchnorm' | 'elementwise' | 'data' | 'optimizer';
  kernel: string;
  shape: string;
  perStep: number; // times one training step runs it (0 for the peak references)
  seconds: number; // per call
  flops: number; // useful floating-point operations per call
  bytes: number; // memory traffic per call
}
