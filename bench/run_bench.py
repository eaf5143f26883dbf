#!/usr/bin/env python3
"""`make bench`: imgcls, PyTorch and ONNX Runtime side by side, alternating, medians and ratios.

It first prints the CPU (model name, family and model, the ISA flags that choose kernels) and
exports the seed model of tests/fixtures to ONNX for the ONNX Runtime peer.
Each round runs, in this order:
  1. the GEMM peak (oneDNN sgemm 2048^3, `imgcls_bench --benchmark_filter=SgemmPeak`);
  2. imgcls: one training epoch of the seed model (`imgcls run --epochs E --json`), in fp32
     and with --precision bf16, and the Google Benchmark cases for the training step at
     batch 32/128/256 (fp32 and bf16) and inference at batch 1 and over 10,000 images;
  3. PyTorch (bench/peers/pytorch_seed.py with Debian's /usr/bin/python3, 2 threads,
     channels_last, OPENBLAS_NUM_THREADS=1): the same epoch and its inference variants;
  4. ONNX Runtime (bench/peers/onnxruntime_seed.js in onnxruntime-node, which scripts/setup.sh
     installs into .onnxruntime/): fp32 inference of the exported seed model, one image and
     the 10,000 test images in batches of 32/256/1000, with 2 threads and, for one image, 1.
The table holds the median over rounds of each figure, and the median over rounds of each
round's ratio (above 1: imgcls is better), plus achieved GFLOPS as a share of the GEMM peak
measured in the same run; then every round's epoch times.
Then, once (--accuracy-epochs E, 0 to skip): the seed model's test accuracy after E epochs
(default 5) in fp32 and in bf16 for seeds 1, 2 and 3, and the largest gap.
With --baseline DIR (a build-bench of another commit), each round also runs that build's
epoch, training steps and inference, alternating with this build's, and a second table
compares the two (a regression check for changes that must not slow imgcls down).

    /usr/bin/python3 bench/run_bench.py --rounds 3 --epochs 1
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_FLOP_PER_IMAGE = 14.78e6      # the seed model's nominal work per training image
PERFORMED_FLOP_PER_IMAGE = 12.46e6  # what imgcls computes: conv2 over the 10x10 outputs pooling reads
PREDICT_MODEL = os.path.join(ROOT, "tests", "fixtures", "seed_model.safetensors")
PREDICT_PICTURE = os.path.join(ROOT, "tests", "images", "digits", "hand_004.pgm")
ONNXRUNTIME_NODE = os.path.join(ROOT, ".onnxruntime", "node_modules", "onnxruntime-node")
# The flags of /proc/cpuinfo that decide which kernels oneDNN, PyTorch and ONNX Runtime run.
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16",
             "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8")


def cpu_description():
    """'Intel(R) Xeon(R) Processor (family 6, model 167); ISA: avx2 fma ...', from /proc/cpuinfo."""
    fields = {}
    with open("/proc/cpuinfo") as f:
        for line in f:
            if not line.strip():
                break  # the first processor's block is enough
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    flags = set(fields.get("flags", "").split())
    isa = " ".join(flag for flag in ISA_FLAGS if flag in flags)
    limit = os.environ.get("ONEDNN_MAX_CPU_ISA")
    return (f"{fields.get('model name', 'unknown CPU')} (family {fields.get('cpu family', '?')}, model "
            f"{fields.get('model', '?')}, {os.cpu_count()} logical CPUs); ISA: {isa or 'none of ' + ' '.join(ISA_FLAGS)}"
            + (f"; ONEDNN_MAX_CPU_ISA={limit}" if limit else ""))


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, env=env, text=True).stdout
    return json.loads(out)


def run_json_with_peak_rss(cmd, env=None):
    """Runs cmd under GNU time; returns its JSON output and its peak resident set in MiB."""
    with tempfile.NamedTemporaryFile(mode="r", suffix=".rss") as rss:
        result = run_json(["/usr/bin/time", "-f", "%M", "-o", rss.name] + cmd, env)
        return result, int(rss.read().split()[-1]) / 1024


def predict_wall_ms(imgcls, model, picture, runs=11):
    """Median wall time of `imgcls predict MODEL PICTURE`, process start to printed answer."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([imgcls, "predict", model, picture], check=True, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def google_benchmark(binary, pattern, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    data = run_json([binary, f"--benchmark_filter={pattern}", "--benchmark_format=json",
                     "--benchmark_min_time=1"], env)
    # Names as registered, without the "/real_time" suffix UseRealTime() adds.
    return {b["name"].removesuffix("/real_time"): b for b in data["benchmarks"]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    p.add_argument("--data", default=os.path.join(ROOT, "data", "mnist"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--accuracy-epochs", type=int, default=5)
    p.add_argument("--baseline", help="a build-bench folder of another commit, measured beside this one")
    a = p.parse_args()
    imgcls = os.path.join(a.build, "imgcls")
    bench = os.path.join(a.build, "bench", "imgcls_bench")
    peer = ["/usr/bin/python3",
            os.path.join(ROOT, "bench", "peers", "pytorch_seed.py")]
    peer_env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    if not os.path.isdir(ONNXRUNTIME_NODE):
        sys.exit(f"run_bench.py: {ONNXRUNTIME_NODE}: onnxruntime-node is not installed "
                 "(scripts/setup.sh --onnx-runtime installs it)")
    onnx_model = os.path.join(tempfile.mkdtemp(prefix="imgcls-bench-"), "seed_model.onnx")
    subprocess.run([imgcls, "export", PREDICT_MODEL, "--onnx", onnx_model], check=True,
                   stdout=subprocess.DEVNULL)
    ort_peer = ["node", os.path.join(ROOT, "bench", "peers", "onnxruntime_seed.js"), ONNXRUNTIME_NODE,
                onnx_model, a.data]
    cpu = cpu_description()
    print(f"CPU: {cpu}", file=sys.stderr)
    figures = {}

    def add(name, value):
        figures.setdefault(name, []).append(value)

    for r in range(a.rounds):
        print(f"round {r + 1}/{a.rounds}", file=sys.stderr)
        peak = google_benchmark(bench, "SgemmPeak", a.threads)
        add("gemm_peak_gflops", next(iter(peak.values()))["GFLOPS"])

        mine, mine_rss = run_json_with_peak_rss(
            [imgcls, "run", "--epochs", str(a.epochs), "--threads", str(a.threads), "--json",
             "--data", a.data, "--out", "/tmp/imgcls-bench-run"])
        add("imgcls_train_rss_mib", mine_rss)
        add("imgcls_predict_ms", predict_wall_ms(imgcls, PREDICT_MODEL, PREDICT_PICTURE))
        add("imgcls_epoch_s", mine["train_seconds"] / a.epochs)
        add("imgcls_accuracy", mine["test_accuracy"])
        mine_bf16 = run_json([imgcls, "run", "--epochs", str(a.epochs), "--threads", str(a.threads), "--json",
                              "--precision", "bf16", "--data", a.data, "--out", "/tmp/imgcls-bench-run-bf16"])
        add("imgcls_bf16_epoch_s", mine_bf16["train_seconds"] / a.epochs)
        add("imgcls_bf16_accuracy", mine_bf16["test_accuracy"])
        cases = google_benchmark(bench, "TrainStep|Inference", a.threads)
        for batch in (32, 128, 256):
            for kind, prefix in (("BM_TrainStep", "imgcls_step"), ("BM_TrainStepBf16", "imgcls_bf16_step")):
                c = cases[f"{kind}/{batch}"]
                add(f"{prefix}{batch}_gflops", c["GFLOPS"])
                add(f"{prefix}{batch}_images_s", c["images/s"])
        add("imgcls_latency_us", cases["BM_Inference/1/1"]["real_time"])
        # Each side's best batch size for throughput (the peer tries the same three).
        best = max((cases[f"BM_Inference/10000/{b}"]["images/s"], b) for b in (32, 256, 1000))
        add("imgcls_throughput", best[0])
        add("imgcls_throughput_batch", best[1])
        # One image is too little work to share: both sides again with one thread.
        single = google_benchmark(bench, "Inference/1/1", 1)
        add("imgcls_latency_1t_us", single["BM_Inference/1/1"]["real_time"])

        if a.baseline:
            base = run_json([os.path.join(a.baseline, "imgcls"), "run", "--epochs", str(a.epochs), "--threads",
                             str(a.threads), "--json", "--data", a.data, "--out", "/tmp/imgcls-bench-baseline"])
            add("baseline_epoch_s", base["train_seconds"] / a.epochs)
            base_cases = google_benchmark(os.path.join(a.baseline, "bench", "imgcls_bench"), "TrainStep/|Inference",
                                          a.threads)
            for batch in (32, 128, 256):
                add(f"baseline_step{batch}_images_s", base_cases[f"BM_TrainStep/{batch}"]["images/s"])
            add("baseline_latency_us", base_cases["BM_Inference/1/1"]["real_time"])
            add("baseline_throughput", max(base_cases[f"BM_Inference/10000/{b}"]["images/s"] for b in (32, 256, 1000)))

        theirs, theirs_rss = run_json_with_peak_rss(
            peer + ["--mode", "both", "--epochs", str(a.epochs), "--threads", str(a.threads),
                    "--data", a.data, "--seed", "1", "--infer-iters", "1000"], peer_env)
        add("torch_train_rss_mib", theirs_rss)
        add("torch_epoch_s", theirs["train_seconds"] / a.epochs)
        add("torch_accuracy", theirs["test_accuracy"])
        infer = theirs["infer"]
        add("torch_latency_us", min(infer["eager_latency_us"], infer["jit_latency_us"]))
        add("torch_throughput", max(infer["eager_images_per_second"], infer["jit_images_per_second"]))
        add("torch_throughput_batch", infer["jit_batch"] if infer["jit_images_per_second"] >= infer["eager_images_per_second"]
            else infer["eager_batch"])
        theirs_1t = run_json(peer + ["--mode", "infer", "--threads", "1", "--data", a.data, "--seed", "1",
                                     "--infer-iters", "1000"], peer_env)["infer"]
        add("torch_latency_1t_us", min(theirs_1t["eager_latency_us"], theirs_1t["jit_latency_us"]))

        ort = run_json(ort_peer + [str(a.threads)])
        add("ort_latency_us", ort["latency_us"])
        add("ort_throughput", ort["images_per_second"][str(ort["best_batch"])])
        add("ort_throughput_batch", ort["best_batch"])
        add("ort_latency_1t_us", run_json(ort_peer + ["1"])["latency_us"])
        ort_version = ort["version"]

    med = {k: statistics.median(v) for k, v in figures.items()}

    def round_ratio(theirs, mine):
        """Median over rounds of each round's ratio: a round's two runs share the machine's state."""
        return statistics.median(t / m for t, m in zip(figures[theirs], figures[mine]))

    def most_common(name):
        return statistics.mode(figures[name])
    peak = med["gemm_peak_gflops"]
    print(f"\nCPU: {cpu}")
    print(f"seed model, {a.threads} threads, medians of {a.rounds} rounds (epochs per round: {a.epochs})")
    print(f"GEMM peak (oneDNN sgemm 2048^3): {peak:.0f} GFLOPS\n")
    print(f"| figure | imgcls | PyTorch 1.13 (best variant) | ratio |")
    print(f"|---|---|---|---|")
    epoch_ratio = round_ratio("torch_epoch_s", "imgcls_epoch_s")
    imgcls_epoch_gflops = 60000 * TRAIN_FLOP_PER_IMAGE / med["imgcls_epoch_s"] / 1e9
    print(f"| training epoch, batch 32 (s) | {med['imgcls_epoch_s']:.2f} ({imgcls_epoch_gflops / peak:.0%} of peak) "
          f"| {med['torch_epoch_s']:.2f} | {epoch_ratio:.2f}x |")
    print(f"| test accuracy after {a.epochs} epoch(s) | {med['imgcls_accuracy']:.4f} | {med['torch_accuracy']:.4f} | |")
    bf16_ratio = round_ratio("torch_epoch_s", "imgcls_bf16_epoch_s")
    print(f"| training epoch, batch 32, `--precision bf16` (s) | {med['imgcls_bf16_epoch_s']:.2f} "
          f"| {med['torch_epoch_s']:.2f} (fp32) | {bf16_ratio:.2f}x |")
    print(f"| test accuracy after {a.epochs} epoch(s), bf16 | {med['imgcls_bf16_accuracy']:.4f} | | |")
    print(f"| single-image latency (us) | {med['imgcls_latency_us']:.0f} | {med['torch_latency_us']:.0f} "
          f"| {round_ratio('torch_latency_us', 'imgcls_latency_us'):.2f}x |")
    print(f"| single-image latency, 1 thread (us) | {med['imgcls_latency_1t_us']:.0f} | "
          f"{med['torch_latency_1t_us']:.0f} | {round_ratio('torch_latency_1t_us', 'imgcls_latency_1t_us'):.2f}x |")
    print(f"| throughput, 10,000 test images (images/s; best batch of 32/256/1000) | {med['imgcls_throughput']:.0f} "
          f"(batch {most_common('imgcls_throughput_batch')}) | {med['torch_throughput']:.0f} (batch "
          f"{most_common('torch_throughput_batch')}) | {round_ratio('imgcls_throughput', 'torch_throughput'):.2f}x |")
    print(f"\nInference against ONNX Runtime {ort_version} (onnxruntime-node: the seed model exported with "
          f"`imgcls export --onnx`; its one-image time includes the Node.js call):\n")
    print("| figure | imgcls | ONNX Runtime | ratio |")
    print("|---|---|---|---|")
    print(f"| single-image latency (us) | {med['imgcls_latency_us']:.0f} | {med['ort_latency_us']:.0f} "
          f"| {round_ratio('ort_latency_us', 'imgcls_latency_us'):.2f}x |")
    print(f"| single-image latency, 1 thread (us) | {med['imgcls_latency_1t_us']:.0f} | "
          f"{med['ort_latency_1t_us']:.0f} | {round_ratio('ort_latency_1t_us', 'imgcls_latency_1t_us'):.2f}x |")
    print(f"| throughput, 10,000 test images (images/s; best batch of 32/256/1000) | {med['imgcls_throughput']:.0f} "
          f"(batch {most_common('imgcls_throughput_batch')}) | {med['ort_throughput']:.0f} (batch "
          f"{most_common('ort_throughput_batch')}) | {round_ratio('imgcls_throughput', 'ort_throughput'):.2f}x |")
    print()
    print("| figure | imgcls | PyTorch 1.13 (best variant) | ratio |")
    print("|---|---|---|---|")
    print(f"| peak resident memory, training run (MiB) | {med['imgcls_train_rss_mib']:.0f} | "
          f"{med['torch_train_rss_mib']:.0f} (training and inference) | "
          f"{round_ratio('torch_train_rss_mib', 'imgcls_train_rss_mib'):.2f}x |")
    print(f"| `imgcls predict MODEL picture`, process start to answer (ms) | "
          f"{med['imgcls_predict_ms']:.1f} | | |")
    for batch in (32, 128, 256):
        g = med[f"imgcls_step{batch}_gflops"]
        done = g * PERFORMED_FLOP_PER_IMAGE / TRAIN_FLOP_PER_IMAGE
        print(f"| training step, batch {batch} (images/s; nominal GFLOPS; GFLOPS performed, share of peak) | "
              f"{med[f'imgcls_step{batch}_images_s']:.0f}; {g:.0f}; {done:.0f}, {done / peak:.0%} | | |")
    for batch in (32, 128, 256):
        print(f"| training step, batch {batch}, bf16 (images/s) | "
              f"{med[f'imgcls_bf16_step{batch}_images_s']:.0f} | | |")
    print("\nEpoch seconds per round (imgcls fp32, imgcls bf16, PyTorch): " + "; ".join(
        f"{a:.2f}, {b:.2f}, {c:.2f}" for a, b, c in
        zip(figures["imgcls_epoch_s"], figures["imgcls_bf16_epoch_s"], figures["torch_epoch_s"])))
    print("\nNominal GFLOPS count the seed model's 14.78 MFLOP per training image (the epoch's share of peak "
          "too); imgcls skips the conv2 outputs pooling never reads (10x10 of 11x11) and performs 12.46 MFLOP: "
          "the performed GFLOPS and their share of the GEMM peak count those.")

    if a.baseline:
        print(f"\nThis build against the baseline {a.baseline}, alternating in the same rounds:\n")
        print("| figure | this build | baseline | ratio (above 1: this build is faster) |")
        print("|---|---|---|---|")
        rows = [("training epoch, batch 32 (s)", "imgcls_epoch_s", "baseline_epoch_s", True, "{:.2f}")]
        rows += [(f"training step, batch {b} (images/s)", f"imgcls_step{b}_images_s", f"baseline_step{b}_images_s",
                  False, "{:.0f}") for b in (32, 128, 256)]
        rows += [("single-image latency (us)", "imgcls_latency_us", "baseline_latency_us", True, "{:.0f}"),
                 ("throughput, 10,000 images, best batch (images/s)", "imgcls_throughput", "baseline_throughput",
                  False, "{:.0f}")]
        for label, mine_key, base_key, lower_is_better, form in rows:
            ratio = round_ratio(base_key, mine_key) if lower_is_better else round_ratio(mine_key, base_key)
            print(f"| {label} | {form.format(med[mine_key])} | {form.format(med[base_key])} | {ratio:.2f}x |")

    if a.accuracy_epochs > 0:
        print(f"\nTest accuracy after {a.accuracy_epochs} epochs, fp32 vs bf16 training:")
        print("| seed | fp32 | bf16 | bf16 - fp32 (points) |")
        print("|---|---|---|---|")
        gaps = []
        for seed in (1, 2, 3):
            acc = {}
            for precision in ("fp32", "bf16"):
                print(f"accuracy: seed {seed}, {precision}", file=sys.stderr)
                acc[precision] = run_json([imgcls, "run", "--epochs", str(a.accuracy_epochs), "--threads",
                                           str(a.threads), "--json", "--precision", precision, "--seed", str(seed),
                                           "--data", a.data, "--out", f"/tmp/imgcls-bench-acc-{precision}"])["test_accuracy"]
            gap = 100 * (acc["bf16"] - acc["fp32"])
            gaps.append(gap)
            print(f"| {seed} | {acc['fp32']:.4f} | {acc['bf16']:.4f} | {gap:+.2f} |")
        print(f"largest gap: {max(abs(g) for g in gaps):.2f} points; mean gap over the seeds: "
              f"{statistics.mean(gaps):+.2f} points")


if __name__ == "__main__":
    main()
