#!/usr/bin/env python3
"""Time to accuracy on MNIST (`make bench`, after the speed table): the seconds of training
until the test accuracy first reaches a target (99.0%), for

  imgcls seed   the seed recipe (`imgcls train`, its defaults): one epoch at a time, resumed
                from the checkpoint with --epochs k+1, evaluated after each epoch, until the
                target or --max-epochs; the seconds are the epochs' training seconds summed;
  imgcls fast   `imgcls train --arch fast` (its recipe: one epoch, batch 256, Adam lr 0.01
                betas 0.7/0.9, one-cycle);
  PyTorch fast  the same model, recipe and in-memory data in PyTorch
                (bench/peers/pytorch_seed.py --arch fast, Debian's /usr/bin/python3).

Each seed in --seeds runs once per round, imgcls fast and PyTorch fast back to back. A
recipe that ends below the target reports its final accuracy and no time. The table gives
each run, then the median seconds of each fast recipe and their ratio (above 1: imgcls is
faster). Training seconds only: loading the data and evaluating are left out on both sides.

    /usr/bin/python3 bench/time_to_accuracy.py --build build-bench --rounds 1
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         env=env, text=True).stdout
    return json.loads(out)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            fields = {key.strip(): value for key, value in
                      (line.split(":", 1) for line in f if ":" in line)}
        return "%s (family %s model %s)" % (fields["model name"].strip(),
                                            fields["cpu family"].strip(), fields["model"].strip())
    except (OSError, KeyError):
        return platform.processor() or "unknown CPU"


def imgcls_seed_recipe(imgcls, data, seed, threads, target, max_epochs, folder):
    """Seconds of training until the seed recipe's test accuracy reaches target."""
    model = os.path.join(folder, "seed_%d.safetensors" % seed)
    checkpoint = os.path.join(folder, "seed_%d.checkpoint.safetensors" % seed)
    seconds, accuracy = 0.0, 0.0
    for epochs in range(1, max_epochs + 1):
        cmd = [imgcls, "train", "--data", data, "--seed", str(seed), "--threads", str(threads),
               "--epochs", str(epochs), "--json"]
        cmd += ["--resume", checkpoint] if epochs > 1 else ["--out", model]
        result = run_json(cmd)
        seconds += result["history"][-1]["seconds"]
        accuracy = result["test_accuracy"]
        if accuracy >= target:
            return {"seconds": seconds, "epochs": epochs, "accuracy": accuracy}
    return {"seconds": None, "epochs": max_epochs, "accuracy": accuracy}


def imgcls_fast(imgcls, data, seed, threads, folder):
    result = run_json([imgcls, "train", "--arch", "fast", "--data", data, "--seed", str(seed),
                       "--threads", str(threads), "--json",
                       "--out", os.path.join(folder, "fast_%d.safetensors" % seed)])
    return {"seconds": result["train_seconds"], "accuracy": result["test_accuracy"]}


def pytorch_fast(data, seed, threads):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    result = run_json(["/usr/bin/python3", os.path.join(ROOT, "bench", "peers", "pytorch_seed.py"),
                       "--data", data, "--arch", "fast", "--mode", "train", "--seed", str(seed),
                       "--threads", str(threads)], env)
    return {"seconds": result["train_seconds"], "accuracy": result["test_accuracy"]}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build-bench"),
                   help="the build holding the imgcls binary")
    p.add_argument("--data", default=os.path.join(ROOT, "data", "mnist"))
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--target", type=float, default=0.99)
    p.add_argument("--max-epochs", type=int, default=5,
                   help="the seed recipe stops here if it has not reached the target")
    p.add_argument("--skip-seed-recipe", action="store_true")
    args = p.parse_args()
    imgcls = os.path.join(args.build, "imgcls")
    if not os.access(imgcls, os.X_OK):
        sys.exit("time_to_accuracy: no imgcls binary in %s (build it first)" % args.build)
    seeds = [int(s) for s in args.seeds.split(",")]

    print("Time to %.1f%% MNIST test accuracy, %d threads, on %s"
          % (100 * args.target, args.threads, cpu_name()))
    rows, fast_imgcls, fast_pytorch = [], [], []
    with tempfile.TemporaryDirectory(prefix="imgcls_tta_bench_") as folder:
        for r in range(args.rounds):
            for seed in seeds:
                mine = imgcls_fast(imgcls, args.data, seed, args.threads, folder)
                theirs = pytorch_fast(args.data, seed, args.threads)
                fast_imgcls.append(mine)
                fast_pytorch.append(theirs)
                rows.append(("imgcls fast", r + 1, seed, mine))
                rows.append(("PyTorch fast", r + 1, seed, theirs))
                print("  round %d seed %d: imgcls fast %.2f s (%.2f%%), PyTorch fast %.2f s (%.2f%%)"
                      % (r + 1, seed, mine["seconds"], 100 * mine["accuracy"], theirs["seconds"],
                         100 * theirs["accuracy"]), flush=True)
        if not args.skip_seed_recipe:
            for seed in seeds:
                run = imgcls_seed_recipe(imgcls, args.data, seed, args.threads, args.target,
                                         args.max_epochs, folder)
                rows.append(("imgcls seed", 1, seed, run))

    def reached(run):
        return "%.2f s" % run["seconds"] if run["accuracy"] >= args.target else "not reached"

    print("\n| recipe | round | seed | test accuracy | seconds of training to %.1f%% |"
          % (100 * args.target))
    print("|---|---|---|---|---|")
    for name, r, seed, run in rows:
        extra = " (%d epochs)" % run["epochs"] if "epochs" in run else ""
        print("| %s | %d | %d | %.2f%% | %s%s |"
              % (name, r, seed, 100 * run["accuracy"], reached(run), extra))
    mine = statistics.median(run["seconds"] for run in fast_imgcls)
    theirs = statistics.median(run["seconds"] for run in fast_pytorch)
    print("\nfast recipe, median seconds of training: imgcls %.2f, PyTorch %.2f, ratio %.2fx"
          % (mine, theirs, theirs / mine))
    print("fast recipe, mean test accuracy: imgcls %.2f%%, PyTorch %.2f%%"
          % (100 * statistics.mean(run["accuracy"] for run in fast_imgcls),
             100 * statistics.mean(run["accuracy"] for run in fast_pytorch)))


if __name__ == "__main__":
    main()
