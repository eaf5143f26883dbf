// The ONNX Runtime peer of `make bench` (bench/run_bench.py): fp32 inference of an exported
// imgcls model (`imgcls export MODEL --onnx OUT.onnx`) in onnxruntime-node, on the MNIST test
// images, with the same thread count as imgcls.
//
//   node onnxruntime_seed.js ONNXRUNTIME_NODE_DIR MODEL.onnx MNIST_DIR THREADS
//
// Prints one JSON object:
//   version          onnxruntime-node's version
//   threads          intra-op threads (inter-op: 1, sequential execution, all graph
//                    optimisations)
//   latency_us       median over 1000 calls of one image (after 100 warm-up calls), each
//                    timed around `await session.run`, so the Node.js call is included
//   images_per_second  {batch: images/s} for batches of 32, 256 and 1000 over the 10,000
//                    test images (the last batch is what remains), median of 5 passes after
//                    one warm-up pass
//   best_batch       the batch with the highest images/s
// Exit code 1 with a message on stderr when a file is missing or not what it should be.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const LATENCY_WARMUP = 100;
const LATENCY_RUNS = 1000;
const THROUGHPUT_PASSES = 5;
const BATCHES = [32, 256, 1000];
const IDX_IMAGES_MAGIC = 0x00000803;

function fail(message) {
  console.error(`onnxruntime_seed.js: ${message}`);
  process.exit(1);
}

// MNIST's t10k-images-idx3-ubyte (or .gz) -> {count, height, width, pixels: Float32Array / 255}
function readTestImages(dir) {
  const plain = path.join(dir, 't10k-images-idx3-ubyte');
  let bytes;
  if (fs.existsSync(plain)) bytes = fs.readFileSync(plain);
  else if (fs.existsSync(`${plain}.gz`)) bytes = zlib.gunzipSync(fs.readFileSync(`${plain}.gz`));
  else fail(`${plain}: no such file (nor .gz)`);
  if (bytes.length < 16 || bytes.readUInt32BE(0) !== IDX_IMAGES_MAGIC)
    fail(`${plain}: not an IDX file of images`);
  const [count, height, width] = [4, 8, 12].map((offset) => bytes.readUInt32BE(offset));
  if (bytes.length !== 16 + count * height * width)
    fail(`${plain}: ${bytes.length} bytes, expected ${16 + count * height * width}`);
  const pixels = new Float32Array(count * height * width);
  for (let i = 0; i < pixels.length; ++i) pixels[i] = bytes[16 + i] / 255;
  return { count, height, width, pixels };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function seconds(start) {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function main() {
  const [ortDir, modelPath, mnistDir, threadsArg] = process.argv.slice(2);
  const threads = Number(threadsArg);
  if (!ortDir || !modelPath || !mnistDir || !(threads >= 1)) {
    console.error('usage: node onnxruntime_seed.js ONNXRUNTIME_NODE_DIR MODEL.onnx MNIST_DIR THREADS');
    process.exit(2);
  }
  if (!fs.existsSync(modelPath)) fail(`${modelPath}: no such file`);
  const ort = require(ortDir);
  const test = readTestImages(mnistDir);
  const per = test.height * test.width;
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const run = (first, n) =>
    session.run({
      image: new ort.Tensor('float32', test.pixels.subarray(first * per, (first + n) * per),
                            [n, 1, test.height, test.width]),
    });

  for (let i = 0; i < LATENCY_WARMUP; ++i) await run(i % test.count, 1);
  const latencies = [];
  for (let i = 0; i < LATENCY_RUNS; ++i) {
    const start = process.hrtime.bigint();
    await run(i % test.count, 1);
    latencies.push(seconds(start) * 1e6);
  }

  const imagesPerSecond = {};
  for (const batch of BATCHES) {
    const pass = async () => {
      const start = process.hrtime.bigint();
      for (let first = 0; first < test.count; first += batch)
        await run(first, Math.min(batch, test.count - first));
      return test.count / seconds(start);
    };
    await pass();
    const rates = [];
    for (let i = 0; i < THROUGHPUT_PASSES; ++i) rates.push(await pass());
    imagesPerSecond[batch] = median(rates);
  }
  const bestBatch = BATCHES.reduce((a, b) => (imagesPerSecond[b] > imagesPerSecond[a] ? b : a));
  const version = JSON.parse(fs.readFileSync(path.join(ortDir, 'package.json'), 'utf8')).version;
  console.log(JSON.stringify({
    version,
    threads,
    latency_us: median(latencies),
    images_per_second: imagesPerSecond,
    best_batch: bestBatch,
  }));
}

main().catch((e) => fail(e.stack || String(e)));
