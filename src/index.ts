// The insalun library: what the CLI's commands do, as functions (docs/library.md). Only a list of
// re-exports: each function lives with the command that uses it, under the name given here.

// data download: a data set from its official source (or a mirror) into the default data folder
export { defaultDataDir } from './data/data-dir.js';
export {
  DATA_SOURCES,
  type DataSource,
  DOWNLOADABLE_DATASETS,
  type DownloadableName,
  type DownloadOptions,
  type DownloadProgress,
  type DownloadResult,
  downloadDataset,
} from './data/download.js';
// compare: a whole experiment from a config, and its table; also its steps, for callers that
// schedule the work themselves (a sweep worker, a tuning protocol), and the plan of jobs they make
// (comparePlan). The steps take no output-folder lock (runCompare holds one, a caller decides its
// own); each takes its artifact's lock while it computes it.
export {
  type CompareConfig,
  type CompareEvents,
  type ComparePlan,
  type CompareResult,
  type CompareRow,
  comparePlan,
  ensureMask,
  ensureOriginal,
  ensureOriginalRow,
  ensureRow,
  type OriginalModel,
  parseCompareConfig,
  type RowConfig,
  type SeedData,
  type SeedRun,
  scoreOriginal,
  seedData,
  seedRun,
  summarize,
} from './experiment/compare.js';
export { type DataSpec, type ExperimentData, prepareData } from './experiment/data.js';
export { DEMO_CONFIG } from './experiment/demo.js';
// evaluate: UA, RA, TA and MIA-efficacy of a model on a forget set; accuracy on any index set
export { accuracyOn, type UnlearningScores, unlearningScores as evaluate } from './experiment/evaluate.js';
export { DEFAULT_FORGET_SEED, type ForgetSelection, selectForget } from './experiment/forget.js';
export { type Reporter, silentReporter } from './experiment/loop.js';
// paired: each row's Avg. Gap against a reference row's over seeds (mean difference, bootstrap
// interval, sign test), from a compare output folder
export {
  type PairedComparison,
  type PairedRow,
  pairedComparisons,
  pairedTable,
  readCompareRows,
  signTestP,
} from './experiment/paired.js';
export { type JobState, type Plan, type PlanJob, planStates, runPlanSerially } from './experiment/plan.js';
// train: the original model, with init/last/best checkpoints and a summary
export { type TrainOptions, type TrainSummary, trainOriginal as train } from './experiment/train.js';
// compare itself: with a `tuning` block, the tuning on the validation forget sets first
// (docs/configs.md, Tuning), then the experiment with the rows it chose
export { runTunedCompare as compare } from './experiment/tuning.js';
// unlearn: one method (optionally masked) on a model, scored; saveUnlearned writes it and its record
export {
  type RelearnOptions,
  saveUnlearned,
  type UnlearnJob,
  type UnlearnRecord,
  unlearnModel as unlearn,
} from './experiment/unlearn.js';
export { type LockHolder, OutputFolderBusyError } from './io/lock.js';
export { renderTable, toCsv, toMarkdown } from './io/results.js';
// mask: SalUn's gradient or InSalUn's integrated-gradient saliency, as top-k masks; and a trained
// checkpoint opened with the data split it recorded
export {
  generateMasks as mask,
  type MaskJob,
  type MaskMethod,
  type MaskSummary,
  maskFileName,
  type OpenedCheckpoint,
  openCheckpoint,
} from './masks/generate.js';
// Where and how models compute
export {
  type ComputeSettings,
  type DeviceName,
  defaultCompute,
  type NativeModel,
  type Precision,
} from './native/index.js';
// privacy: the NeurIPS 2023 Machine Unlearning Challenge's score (docs/privacy.md), and confidence
// populations as files
export {
  CHALLENGE_DELTA,
  CHALLENGE_EPSILON_CAP,
  type ChallengeAccuracies,
  type ConfidenceMatrix,
  challengeEpsilons,
  challengeForgetScore,
  challengeScore,
  exampleEpsilon,
  forgetScoreFromEpsilons,
  logitScaledConfidence,
} from './privacy/challenge-score.js';
export {
  CONFIDENCE_FILE_FORMAT,
  type ConfidencePopulations,
  readConfidences,
  writeConfidences,
} from './privacy/confidence-file.js';
export { METHOD_NAMES, type MethodName } from './unlearn/methods.js';
