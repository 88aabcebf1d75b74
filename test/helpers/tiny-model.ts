// A width-2 model on 24 random 8x8 images of 3 classes, with a fixed forget and retain selection:
// small enough for mask and IG tests to run in milliseconds on the CPU.
import { addon, testRandom } from './backends.js';

export function tinySetup(seed = 4) {
  const rand = testRandom(seed);
  const n = 24,
    classes = 3;
  const images = Uint8Array.from({ length: n * 3 * 64 }, () => Math.floor(rand() * 256));
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  const data = new addon.Dataset('cpu', images, labels, { n, c: 3, h: 8, w: 8 }, [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]);
  const model = new addon.Model({ classes, inChannels: 3, width: 2, device: 'cpu', image: 8 });
  model.initialize(seed);
  const forget = Int32Array.from([1, 4, 7, 9, 12, 20]);
  const retain = Int32Array.from([0, 2, 5, 13, 17, 22]);
  return { data, model, forget, retain };
}
