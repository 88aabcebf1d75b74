// The side-by-side table of a device run: insalun's throughput (device-check.json) next to the
// PyTorch peer's (torch_anchor.json, torch_compile_graphs.json), all measured in the same session on the same GPU.
// Usage: node scripts/side-by-side.mjs DIR   (DIR holds both JSON files; prints Markdown)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? process.env.OUT ?? '.';
const read = (name) => {
  try {
    return JSON.parse(readFileSync(join(dir, name), 'utf8'));
  } catch {
    return null;
  }
};
const ours = read('device-check.json');
const peer = { ...(read('torch_anchor.json') ?? {}), ...(read('torch_compile_graphs.json') ?? {}) };
if (!ours) {
  console.error(`no device-check.json in ${dir}`);
  process.exit(1);
}

// Our rows by mode (fp32, tf32, bf16, bf16-nchw, bf16-element), kind, batch and capture.
const find = (mode, kind, batch, captured = true) =>
  ours.throughput.find(
    (r) => r.mode === mode && r.kind === kind && r.batch === batch && (kind !== 'train' || r.captured === captured),
  );
const rate = (row) => (row ? row.imagesPerSecond : undefined);
// Captured training rows are steady-state steps, as PyTorch's are; what each epoch costs beyond them.
const overhead = (row) =>
  row?.epochOverheadSeconds !== undefined
    ? `; insalun: +${(row.epochOverheadSeconds * 1000).toFixed(1)} ms per epoch`
    : '';
const peerRate = (name) => peer[name]?.img_per_s;

const lines = [];
const row = (work, insalun, torch, note = '') => {
  const f = (v) => (v === undefined ? '-' : Math.round(v).toLocaleString('en-US'));
  const ratio = insalun !== undefined && torch !== undefined ? (insalun / torch).toFixed(2) : '-';
  lines.push(`| ${work} | ${f(insalun)} | ${f(torch)} | ${ratio} | ${note} |`);
};
lines.push('| work (img/s) | insalun | PyTorch | insalun / PyTorch | note |', '|---|---|---|---|---|');
for (const batch of [128, 256, 512]) {
  const torchFp32 = peerRate(`train fp32 NCHW bs${batch} (SalUn-style)`);
  const train = (mode) => find(mode, 'train', batch);
  row(
    `train b${batch}, TF32 convs`,
    rate(train('tf32')),
    torchFp32,
    `PyTorch: fp32 NCHW, TF32 convolutions, cudnn.benchmark${overhead(train('tf32'))}`,
  );
  row(
    `train b${batch}, strict fp32`,
    rate(train('fp32')),
    torchFp32,
    `PyTorch row uses TF32: not like for like${overhead(train('fp32'))}`,
  );
  const torchBf16 = peerRate(`train bf16 channels_last bs${batch}`);
  row(
    `train b${batch}, bf16 NHWC`,
    rate(train('bf16')),
    torchBf16,
    `PyTorch: autocast bf16, channels_last${overhead(train('bf16'))}`,
  );
  row(
    `train b${batch}, bf16 NCHW`,
    rate(train('bf16-nchw')),
    torchBf16,
    overhead(train('bf16-nchw')).replace(/^; /, ''),
  );
}
row(
  'train b256, bf16 NHWC, one-element loads',
  rate(find('bf16-element', 'train', 256)),
  peerRate('train bf16 channels_last bs256'),
  'what the 16-byte packs of batch norm and SGD buy',
);
for (const mode of ['tf32', 'bf16', 'bf16-nchw', 'fp32'])
  row(
    `train b256, ${mode}, eager steps (no graph)`,
    rate(find(mode, 'train', 256, false)),
    undefined,
    'what step capture buys',
  );
row(
  'train b256 bf16, torch.compile (default mode)',
  undefined,
  peerRate('train bf16 CL bs256 torch.compile'),
  'compiled in this run (SKIP_COMPILE=0)',
);
for (const batch of [128, 256, 512]) {
  const graphs = peerRate(`train bf16 CL bs${batch} torch.compile reduce-overhead`);
  if (graphs !== undefined)
    row(
      `train b${batch}, bf16 NHWC vs torch.compile + CUDA graphs`,
      rate(find('bf16', 'train', batch)),
      graphs,
      'the peer to beat next',
    );
}
row('eval b1024, TF32', rate(find('tf32', 'eval', 1024)), peerRate('eval fp32 NCHW bs1024'), '');
row('eval b1024, bf16', rate(find('bf16', 'eval', 1024)), peerRate('eval bf16 channels_last bs1024'), '');
row('IG 4,500 x 8, TF32', rate(find('tf32', 'ig', 256)), peerRate('IG 4500 forget imgs x 8 steps fp32'), '');
row('IG 4,500 x 8, bf16', rate(find('bf16', 'ig', 256)), peerRate('IG 4500 forget imgs x 8 steps bf16 CL'), '');

const failed = ours.parity.filter((p) => !p.ok).length;
// The vitest suites of the same run (vitest.json): counts, and the names of failed tests.
const vitest = read('vitest.json');
const vitestLine = vitest
  ? `vitest: ${vitest.numPassedTests} passed, ${vitest.numFailedTests} failed, ${vitest.numPendingTests} skipped` +
    vitest.testResults
      .flatMap((f) => f.assertionResults.filter((t) => t.status === 'failed').map((t) => `\n  FAILED ${t.fullName}`))
      .join('')
  : 'vitest: no vitest.json (the suites did not finish)';
const text =
  `${ours.info?.cudaReport?.split('\n').find((l) => l.includes('GPU')) ?? ''}\n\n` +
  `${lines.join('\n')}\n\n${vitestLine}\nparity: ${ours.parity.length - failed}/${ours.parity.length} checks passed; ` +
  `${ours.errors.length} phases failed${ours.errors.length ? ` (${ours.errors.map((e) => e.phase).join(', ')})` : ''}\n` +
  ours.parity
    .filter((p) => !p.ok)
    .map((p) => `  FAILED ${p.name}${p.error !== undefined ? ` (${p.error})` : ''}\n`)
    .join('');
writeFileSync(join(dir, 'side-by-side.md'), text);
process.stdout.write(text);
