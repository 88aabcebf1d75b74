// The in-memory image set every loader returns and dataset.ts combines. It has its own module so
// that the loaders (cifar, idx, synthetic, ...) and dataset.ts, which imports them, do not import
// each other.

export interface ImageSet {
  images: Uint8Array; // [n, c, h, w] uint8 0..255, CHW planes
  labels: Int32Array;
  n: number;
  channels: number;
  height: number;
  width: number;
}
