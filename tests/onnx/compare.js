// compare.js: runs an exported ONNX model in onnxruntime-node (a third-party runtime) on the
// images of an onnx_reference file and compares its probabilities with imgcls's.
//   node compare.js ONNXRUNTIME_NODE_DIR MODEL.onnx REFERENCE.bin [MAX_ABS_DIFF]
// Fails (exit 1) unless the graph has the documented input and outputs, every probability
// is within MAX_ABS_DIFF (default 1e-4) of imgcls's, and every predicted label agrees.
// Runs the whole set as one batch and the first image alone, so the batch dimension is
// checked to be dynamic.
'use strict';
const fs = require('fs');

const [ortDir, modelPath, referencePath, tolArg] = process.argv.slice(2);
if (!ortDir || !modelPath || !referencePath) {
  console.error('usage: node compare.js ONNXRUNTIME_NODE_DIR MODEL.onnx REFERENCE.bin [MAX_ABS_DIFF]');
  process.exit(2);
}
const tolerance = tolArg === undefined ? 1e-4 : Number(tolArg);
const ort = require(ortDir);

function fail(message) {
  console.error(`compare.js: FAIL: ${message}`);
  process.exit(1);
}

// magic "IMGCLREF", uint32 count, C, H, W, classes, float32 images, float32 probabilities
function readReference(path) {
  const bytes = fs.readFileSync(path);
  if (bytes.toString('latin1', 0, 8) !== 'IMGCLREF') fail(`${path}: not an onnx_reference file`);
  const [count, c, h, w, classes] = [0, 1, 2, 3, 4].map((i) => bytes.readUInt32LE(8 + 4 * i));
  const imageValues = count * c * h * w;
  const start = 8 + 4 * 5;
  const expectedSize = start + 4 * (imageValues + count * classes);
  if (bytes.length !== expectedSize) fail(`${path}: ${bytes.length} bytes, expected ${expectedSize}`);
  const floats = (offset, n) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; ++i) out[i] = bytes.readFloatLE(offset + 4 * i);
    return out;
  };
  return {
    count, c, h, w, classes,
    images: floats(start, imageValues),
    probabilities: floats(start + 4 * imageValues, count * classes),
  };
}

function argmax(values, row, classes) {
  let best = 0;
  for (let k = 1; k < classes; ++k)
    if (values[row * classes + k] > values[row * classes + best]) best = k;
  return best;
}

async function main() {
  const ref = readReference(referencePath);
  const session = await ort.InferenceSession.create(modelPath);
  if (JSON.stringify(session.inputNames) !== JSON.stringify(['image']))
    fail(`input names ${JSON.stringify(session.inputNames)}, expected ["image"]`);
  if (JSON.stringify(session.outputNames) !== JSON.stringify(['logits', 'probabilities']))
    fail(`output names ${JSON.stringify(session.outputNames)}, expected ["logits","probabilities"]`);

  const run = async (first, n) => {
    const per = ref.c * ref.h * ref.w;
    const input = new ort.Tensor('float32', ref.images.slice(first * per, (first + n) * per),
                                 [n, ref.c, ref.h, ref.w]);
    const out = await session.run({ image: input });
    const p = out.probabilities;
    if (JSON.stringify(p.dims) !== JSON.stringify([n, ref.classes]))
      fail(`probabilities of shape ${JSON.stringify(p.dims)}, expected [${n}, ${ref.classes}]`);
    return p.data;
  };

  const all = await run(0, ref.count);
  let maxDiff = 0;
  let agree = 0;
  for (let i = 0; i < ref.count; ++i) {
    for (let k = 0; k < ref.classes; ++k) {
      // Math.max keeps a NaN, which then fails the tolerance check.
      maxDiff = Math.max(maxDiff, Math.abs(all[i * ref.classes + k] - ref.probabilities[i * ref.classes + k]));
    }
    if (argmax(all, i, ref.classes) === argmax(ref.probabilities, i, ref.classes)) ++agree;
  }
  const single = await run(0, 1);
  let singleDiff = 0;
  for (let k = 0; k < ref.classes; ++k)
    singleDiff = Math.max(singleDiff, Math.abs(single[k] - ref.probabilities[k]));

  console.log(`compare.js: ${modelPath}: ${ref.count} images, max abs diff ${maxDiff.toExponential(3)} ` +
              `(batch 1: ${singleDiff.toExponential(3)}), labels agree ${agree}/${ref.count}, ` +
              `onnxruntime-node ${ort.env.versions.node}`);
  if (!(maxDiff <= tolerance) || !(singleDiff <= tolerance))
    fail(`max abs diff ${maxDiff} (batch 1: ${singleDiff}) exceeds ${tolerance}`);
  if (agree !== ref.count) fail(`labels differ on ${ref.count - agree} of ${ref.count} images`);
}

main().catch((e) => fail(e.stack || String(e)));
