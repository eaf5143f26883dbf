#!/usr/bin/env python3
"""PyTorch peer for the imgcls benchmarks: the "seed" CNN on MNIST (and, with --arch fast,
the fast preset with its recipe: one epoch, batch 256, Adam lr 0.01 betas (0.7, 0.9),
one-cycle).

Trains and/or times inference of the same seed model the C++ toolkit uses,
so the two can be compared on equal terms:

    Conv2D(32, 3x3, valid) + ReLU -> MaxPool(2x2)
    Conv2D(64, 3x3, valid) + ReLU -> MaxPool(2x2)
    Flatten (NHWC order) -> Dense(64) + ReLU -> Dense(10) logits

Glorot-uniform kernels, zero biases, Adam(lr=1e-3, betas=(0.9, 0.999),
eps=1e-7), mean sparse categorical cross-entropy, batch 32 reshuffled every
epoch with a seeded torch.Generator.  MNIST is read from the IDX files
(plain or .gz) into memory as float tensors in [0, 1] before any timing.

CPU settings: torch.set_num_threads(--threads), channels_last memory format
for the model and inputs.  Run with OPENBLAS_NUM_THREADS=1 so the BLAS used
by the dense layers does not spawn its own threads on top of torch's (the
script sets it as a default if unset, but setting it in the environment is
the reliable way):

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/peers/pytorch_seed.py \\
        --data /path/to/mnist [--epochs 5] [--threads 2] [--mode both]

Modes: "train" times each epoch and reports test accuracy; "infer" measures
eager single-image latency and throughput over the test set (the best of batches
32, 256 and 1000), plus the same for a TorchScript frozen + optimize_for_inference model; "both"
trains first and then times inference of the trained model ("infer" alone
uses the freshly initialised model, which is fine for timing).

Exactly one JSON object is printed on stdout; progress goes to stderr.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

CHANNELS_LAST = torch.channels_last


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

def read_idx(data_dir, name):
    """Read an IDX file (name or name.gz) from data_dir as a numpy array."""
    path = os.path.join(data_dir, name)
    if os.path.exists(path):
        with open(path, "rb") as f:
            raw = f.read()
    elif os.path.exists(path + ".gz"):
        with gzip.open(path + ".gz", "rb") as f:
            raw = f.read()
    else:
        raise FileNotFoundError("neither %s nor %s.gz exists" % (path, path))
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError("%s: size mismatch" % path)
    return data.reshape(dims)


def load_mnist(data_dir, limit=None):
    """Return (x_train, y_train, x_test, y_test) as in-memory tensors.

    Images are float32 [N, 1, 28, 28] in [0, 1], channels_last; labels int64.
    """
    def images(name):
        a = read_idx(data_dir, name).astype(np.float32) / 255.0
        t = torch.from_numpy(a).unsqueeze(1)
        return t.contiguous(memory_format=CHANNELS_LAST)

    def labels(name):
        return torch.from_numpy(read_idx(data_dir, name).astype(np.int64))

    x_train = images("train-images-idx3-ubyte")
    y_train = labels("train-labels-idx1-ubyte")
    if limit is not None:
        x_train = x_train[:limit].contiguous(memory_format=CHANNELS_LAST)
        y_train = y_train[:limit].clone()
    x_test = images("t10k-images-idx3-ubyte")
    y_test = labels("t10k-labels-idx1-ubyte")
    return x_train, y_train, x_test, y_test


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------

class SmallCnn(nn.Module):
    """Conv(k1) + ReLU, max pool 2, Conv 3x3 + ReLU, max pool 2, Flatten, Dense + ReLU, Dense
    10 logits: imgcls's seed and fast presets (NCHW logical layout; flattens in NHWC/Keras
    order). Glorot-uniform kernels, zero biases."""

    def __init__(self, conv1_filters, conv1_kernel, conv2_filters, dense_units):
        super().__init__()
        self.conv1 = nn.Conv2d(1, conv1_filters, conv1_kernel)
        self.conv2 = nn.Conv2d(conv1_filters, conv2_filters, 3)
        self.fc1 = nn.Linear(5 * 5 * conv2_filters, dense_units)
        self.fc2 = nn.Linear(dense_units, 10)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
        # With channels_last memory this permute is a free view.
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def SeedNet():
    """The seed CNN: Conv 32 3x3, Conv 64 3x3, Dense 64."""
    return SmallCnn(32, 3, 64, 64)


def FastNet():
    """imgcls's fast preset (presets::fast): Conv 16 5x5, Conv 32 3x3, Dense 256."""
    return SmallCnn(16, 5, 32, 256)


# Each architecture's training recipe, as `imgcls train --arch NAME` uses it when no option
# is given (cli/train.cpp): epochs, batch size, Adam's learning rate and betas, schedule.
RECIPES = {
    "seed": {"epochs": 5, "batch_size": 32, "lr": 1e-3, "betas": (0.9, 0.999),
             "schedule": "constant"},
    "fast": {"epochs": 1, "batch_size": 256, "lr": 0.01, "betas": (0.7, 0.9),
             "schedule": "onecycle"},
}


def blas_library():
    """Path of the BLAS shared library loaded into this process, if any.

    Debian's torch calls whatever libblas.so.3 the alternatives system
    selects (reference BLAS or OpenBLAS); it matters for the dense layers.
    """
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line}
    except OSError:
        return None
    paths = sorted(os.path.realpath(q) for q in paths if q.startswith("/"))
    return ", ".join(sorted(set(paths))) or None


def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            pred = model(x[i:i + batch]).argmax(dim=1)
            correct += (pred == y[i:i + batch]).sum().item()
    return correct / x.shape[0]


# --------------------------------------------------------------------------
# Benchmarks
# --------------------------------------------------------------------------

def train(model, x_train, y_train, epochs, batch_size, seed, lr=1e-3,
          betas=(0.9, 0.999), schedule="constant"):
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=betas, eps=1e-7)
    gen = torch.Generator().manual_seed(seed)
    n = x_train.shape[0]
    steps = epochs * ((n + batch_size - 1) // batch_size)
    # imgcls's onecycle: PyTorch's OneCycleLR with cosine annealing, from lr/25 up to lr over
    # the first 30% of the steps, then down to lr/250,000; Adam's betas stay as they are.
    sched = (torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=steps, pct_start=0.3, anneal_strategy="cos",
        cycle_momentum=False, div_factor=25.0, final_div_factor=1e4)
        if schedule == "onecycle" else None)
    epoch_seconds = []
    for epoch in range(epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        total_loss = 0.0
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            xb = x_train[idx].contiguous(memory_format=CHANNELS_LAST)
            yb = y_train[idx]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            total_loss += loss.item() * idx.shape[0]
        dt = time.perf_counter() - t0
        epoch_seconds.append(dt)
        log("epoch %d/%d: %.3f s, mean loss %.4f"
            % (epoch + 1, epochs, dt, total_loss / n))
    return epoch_seconds


def time_latency(fn, sample, iters, warmup):
    """Median per-call latency of fn(sample) in microseconds."""
    for _ in range(warmup):
        fn(sample)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn(sample)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def time_throughput(fn, x, batch, passes):
    """Images/second over x at the given batch size (median pass time)."""
    def one_pass():
        for i in range(0, x.shape[0], batch):
            fn(x[i:i + batch])
    one_pass()  # warmup
    times = []
    for _ in range(passes):
        t0 = time.perf_counter()
        one_pass()
        times.append(time.perf_counter() - t0)
    return x.shape[0] / statistics.median(times)


THROUGHPUT_BATCHES = (32, 256, 1000)


def best_throughput(fn, x, passes):
    """The best images/second over the batch sizes tried, and that batch size."""
    best = max((time_throughput(fn, x, b, passes), b) for b in THROUGHPUT_BATCHES)
    return best


def bench_infer(model, x_test, iters, passes):
    model.eval()
    warmup = max(10, iters // 10)
    sample = x_test[:1].contiguous(memory_format=CHANNELS_LAST)
    res = {}
    with torch.no_grad():
        res["eager_latency_us"] = time_latency(model, sample, iters, warmup)
        log("eager latency: %.1f us" % res["eager_latency_us"])
        res["eager_images_per_second"], res["eager_batch"] = best_throughput(
            model, x_test, passes)
        log("eager throughput: %.0f img/s at batch %d" % (res["eager_images_per_second"], res["eager_batch"]))

        scripted = torch.jit.script(model)
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(scripted))
        res["jit_latency_us"] = time_latency(frozen, sample, iters, warmup)
        log("jit latency: %.1f us" % res["jit_latency_us"])
        res["jit_images_per_second"], res["jit_batch"] = best_throughput(
            frozen, x_test, passes)
        log("jit throughput: %.0f img/s at batch %d" % (res["jit_images_per_second"], res["jit_batch"]))
    return res


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def parse_args():
    p = argparse.ArgumentParser(
        description="PyTorch peer benchmark for the imgcls seed CNN.")
    p.add_argument("--data", required=True,
                   help="folder with the four MNIST IDX files (or .gz)")
    p.add_argument("--arch", choices=sorted(RECIPES), default="seed",
                   help="the model; its recipe gives the defaults of the options below")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit", type=int, default=None,
                   help="use only the first N training images")
    p.add_argument("--mode", choices=("train", "infer", "both"),
                   default="both")
    p.add_argument("--infer-iters", type=int, default=2000,
                   help="single-image calls timed for latency")
    p.add_argument("--infer-passes", type=int, default=5,
                   help="timed passes over the test set for throughput")
    args = p.parse_args()
    recipe = RECIPES[args.arch]
    if args.epochs is None:
        args.epochs = recipe["epochs"]
    if args.batch_size is None:
        args.batch_size = recipe["batch_size"]
    args.recipe = recipe
    return args


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    log("loading MNIST from %s" % args.data)
    x_train, y_train, x_test, y_test = load_mnist(args.data, args.limit)
    log("train %s, test %s" % (tuple(x_train.shape), tuple(x_test.shape)))

    model = (FastNet() if args.arch == "fast" else SeedNet()).to(
        memory_format=CHANNELS_LAST)

    result = {
        "peer": "pytorch",
        "torch_version": torch.__version__,
        "threads": args.threads,
        "blas_library": blas_library(),
        "arch": args.arch,
        "batch_size": args.batch_size,
    }

    if args.mode in ("train", "both"):
        epoch_seconds = train(model, x_train, y_train, args.epochs,
                              args.batch_size, args.seed, lr=args.recipe["lr"],
                              betas=args.recipe["betas"],
                              schedule=args.recipe["schedule"])
        train_seconds = sum(epoch_seconds)
        result["epochs"] = args.epochs
        result["train_images"] = int(x_train.shape[0])
        result["epoch_seconds"] = epoch_seconds
        result["train_seconds"] = train_seconds
        result["train_images_per_second"] = (
            x_train.shape[0] * args.epochs / train_seconds)
        result["test_accuracy"] = evaluate(model, x_test, y_test)
        log("test accuracy: %.4f" % result["test_accuracy"])

    if args.mode in ("infer", "both"):
        result["infer"] = bench_infer(model, x_test, args.infer_iters,
                                      args.infer_passes)

    print(json.dumps(result))


if __name__ == "__main__":
    main()
