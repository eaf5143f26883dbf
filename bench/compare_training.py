#!/usr/bin/env python3
"""Side-by-side training benchmark: imgcls vs the PyTorch peer, same model and recipe.

Alternates `imgcls run --json` and `bench/peers/pytorch_seed.py --mode train` (Debian's
python3-torch under /usr/bin/python3) for each seed, rounds times, and prints the median
seconds per epoch, the test accuracy of each, and the ratio peer/imgcls (above 1: imgcls
is faster). The machine is shared and noisy, so only medians are quoted.

    /usr/bin/python3 bench/compare_training.py --epochs 5 --seeds 1 2 3 --rounds 1
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, env=env, text=True).stdout
    return json.loads(out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--imgcls", default=os.path.join(ROOT, "build", "imgcls"))
    p.add_argument("--data", default=os.path.join(ROOT, "data", "mnist"))
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--out", default="/tmp/imgcls-bench")
    a = p.parse_args()

    peer_env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    rows = {"imgcls": [], "pytorch": []}
    for _ in range(a.rounds):
        for seed in a.seeds:
            common = ["--epochs", str(a.epochs), "--batch-size", str(a.batch_size),
                      "--threads", str(a.threads), "--seed", str(seed)]
            mine = run_json([a.imgcls, "run", "--json", "--data", a.data, "--out", a.out] + common)
            rows["imgcls"].append((seed, mine["train_seconds"] / a.epochs, mine["test_accuracy"]))
            print(f"imgcls  seed {seed}: {mine['train_seconds']:.1f} s, test accuracy {mine['test_accuracy']:.4f}",
                  file=sys.stderr)
            peer = run_json(["/usr/bin/python3", os.path.join(ROOT, "bench", "peers", "pytorch_seed.py"),
                             "--mode", "train", "--data", a.data] + common, env=peer_env)
            rows["pytorch"].append((seed, peer["train_seconds"] / a.epochs, peer["test_accuracy"]))
            print(f"pytorch seed {seed}: {peer['train_seconds']:.1f} s, test accuracy {peer['test_accuracy']:.4f}",
                  file=sys.stderr)

    med = {k: statistics.median(r[1] for r in v) for k, v in rows.items()}
    print(f"\nseed model, batch {a.batch_size}, {a.threads} threads, {a.epochs} epochs, "
          f"seeds {a.seeds}, {a.rounds} round(s)")
    print(f"{'':10}{'median s/epoch':>16}{'test accuracy (per run)':>40}")
    for k, v in rows.items():
        accs = " ".join(f"{r[2]:.4f}" for r in v)
        print(f"{k:10}{med[k]:>16.2f}{accs:>40}")
    print(f"ratio pytorch/imgcls (s/epoch): {med['pytorch'] / med['imgcls']:.2f}x")


if __name__ == "__main__":
    main()
