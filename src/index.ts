// The insalun library: what the CLI's commands do, as functions (docs/library.md). Only a list of
// re-exports: each function lives with the command that uses it, under the name given here.

// train: the original model, with init/last/best checkpoints and a summary
export { trainOriginal as train, type TrainOptions, type TrainSummary } from './experiment/train.js';

// A trained checkpoint with the data split it recorded, and a forget set over that data
export { openCheckpoint, type OpenedCheckpoint } from './masks/generate.js';
export { prepareData, type DataSpec, type ExperimentData } from './experiment/data.js';
export { DEFAULT_FORGET_SEED, selectForget, type ForgetSelection } from './experiment/forget.js';

// mask: SalUn's gradient or InSalUn's integrated-gradient saliency, as top-k masks
export { generateMasks as mask, maskFileName, type MaskJob, type MaskMethod, type MaskSummary } from './masks/generate.js';

// unlearn: one method (optionally masked) on a model, scored; saveUnlearned writes it and its record
export { saveUnlearned, unlearnModel as unlearn, type RelearnOptions, type UnlearnJob, type UnlearnRecord } from './experiment/unlearn.js';
export { METHOD_NAMES, type MethodName } from './unlearn/methods.js';

// evaluate: UA, RA, TA and MIA-efficacy of a model on a forget set; accuracy on any index set
export { accuracyOn, unlearningScores as evaluate, type UnlearningScores } from './experiment/evaluate.js';

// compare: a whole experiment from a config, and its table
export { parseCompareConfig, runCompare as compare, type CompareConfig, type CompareEvents, type CompareResult, type CompareRow } from './experiment/compare.js';
export { DEMO_CONFIG } from './experiment/demo.js';

// Where models compute, progress, tables, and the lock that gives an output folder to one run
export { defaultCompute, type ComputeSettings, type DeviceName, type NativeModel, type Precision } from './native/index.js';
export { silentReporter, type Reporter } from './experiment/loop.js';
export { renderTable, toCsv, toMarkdown } from './io/results.js';
export { OutputFolderBusyError, type LockHolder } from './io/lock.js';
