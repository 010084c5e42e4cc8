#!/usr/bin/python3
"""Runs `ongko bench` and the PyTorch anchor (bench/torch_anchor.py) alternately, A B A B, in one go,
takes the median of each figure over the repeats and prints a table: measure | Ongko | PyTorch | ratio.

    bench/compare.sh                      # model3, LeNet and numta28-best (BatchNorm), batch 128, 2 threads, 3 repeats
    bench/compare.sh --sweep              # also model3 at batch 1, 8, 32, 128, 512 x threads 1, 2
    bench/compare.sh --inference          # only inference: Ongko, ONNX Runtime and PyTorch side by side for
                                          # model3, numta28-best and each models/*.safetensors, batch 128 and 1,
                                          # threads 1 and 2 (the same network exported by `ongko export`)

Only numbers from this one run are compared. Debian's python3-torch uses whatever libblas.so.3 the
loader finds; bench/fetch-openblas.sh unpacks OpenBLAS into bench/.openblas (no system change) and
this script puts it first on LD_LIBRARY_PATH, so torch's Linear layers and torch.matmul run on OpenBLAS.
"""
import argparse, glob, json, os, platform, shutil, statistics, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = {"model3": None, "lenet": os.path.join(ROOT, "configs", "lenet.yaml"),
           "numta28-best": os.path.join(ROOT, "configs", "numta28-best.yaml")}


def run_json(command, env=None):
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    return json.loads(result.stdout)


def ongko_command(args, model, batch, threads, gemm):
    command = [args.ongko, "bench", "--json", "--batch", str(batch), "--threads", str(threads), "--seconds", str(args.seconds)]
    if CONFIGS[model]: command += ["--config", CONFIGS[model]]
    if not gemm: command.append("--no-gemm")
    return command


def torch_command(args, model, batch, threads, gemm):
    command = [args.python, os.path.join(ROOT, "bench", "torch_anchor.py"), "--model", model, "--batch", str(batch),
               "--threads", str(threads), "--seconds", str(args.seconds), "--train-settings", args.torch_train]
    if not gemm: command.append("--no-gemm")
    return command


def measure(args, model, batch, threads, gemm, torch_env, gemm_env=None):
    """A B A B ...: returns (ongko runs, torch runs)."""
    ongko, torch = [], []
    for _ in range(args.repeats):
        ongko.append(run_json(ongko_command(args, model, batch, threads, gemm)))
        run = run_json(torch_command(args, model, batch, threads, False), torch_env)
        if gemm:
            run["GemmGflops"] = run_json(torch_command(args, model, batch, threads, True) + ["--only-gemm"], gemm_env)["GemmGflops"]
        torch.append(run)
    return ongko, torch


def median(runs, key, sub=None):
    values = [run[key][sub] if sub is not None else run[key] for run in runs]
    return statistics.median(values)


def row(name, ongko, torch, lower_is_better=False, target=None, unit=""):
    ratio = ongko / torch if torch else float("nan")
    if target is None: verdict = ""
    elif lower_is_better: verdict = "met" if ratio <= target else "NOT met"
    else: verdict = "met" if ratio >= target else "NOT met"
    target_text = "" if target is None else (f"<= {target:g}x" if lower_is_better else f">= {target:g}x")
    return f"| {name} | {ongko:,.1f}{unit} | {torch:,.1f}{unit} | {ratio:.2f}x | {target_text} {verdict} |".replace("  ", " ")


def inference(args, torch_env):
    """Ongko (ongko bench), ONNX Runtime (bench/ort) and PyTorch (the torch export) on the same networks, A B C A B C."""
    ort = ["dotnet", args.ort]
    sources = [("model3", os.path.join(ROOT, "configs", "numta-model3.yaml")), ("numta28-best", os.path.join(ROOT, "configs", "numta28-best.yaml"))]
    sources += [(os.path.splitext(os.path.basename(p))[0] + " (shipped)", p) for p in sorted(glob.glob(os.path.join(ROOT, "models", "*.safetensors")))]
    work = tempfile.mkdtemp(prefix="ongko-compare-")
    print(f"Inference, {args.repeats} repeats, A B C A B C (Ongko, ONNX Runtime, PyTorch), medians; each network exported by "
          "bench/ort prepare (ongko export's code) to ONNX and to torch; ONNX Runtime with all graph optimisations, one inter-op thread; "
          "PyTorch: the faster of NCHW and channels-last, OPENBLAS_NUM_THREADS=1")
    print()
    print("| network | threads | Ongko b128 img/s | ORT b128 | PyTorch b128 | Ongko/ORT | Ongko/PyTorch "
          "| Ongko b1 ms | ORT b1 ms | PyTorch b1 ms | Ongko/ORT b1 | Ongko/PyTorch b1 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    try:
        for name, source in sources:
            prepared = run_json(ort + ["prepare", source, work])
            shape = ",".join(str(d) for d in prepared["InputShape"])
            for threads in (1, 2):
                runs = {"ongko": [], "ort": [], "torch": []}
                for _ in range(args.repeats):
                    runs["ongko"].append(run_json([args.ongko, "bench", "--json", "--no-gemm", "--config", prepared["Config"], "--batch", str(args.batch),
                                                   "--threads", str(threads), "--seconds", str(args.seconds)]))
                    runs["ort"].append(run_json(ort + ["run", prepared["Onnx"], "--batch", str(args.batch), "--threads", str(threads),
                                                       "--seconds", str(args.seconds)])["Runs"][0])
                    runs["torch"].append(run_json([args.python, os.path.join(ROOT, "bench", "torch_anchor.py"), "--module", prepared["TorchPython"],
                                                   "--shape", shape, "--batch", str(args.batch), "--threads", str(threads),
                                                   "--seconds", str(args.seconds)], torch_env))
                o, r, t = (median(runs[k], "InferImagesPerSecond") for k in ("ongko", "ort", "torch"))
                ol, rl, tl = (median(runs[k], "Batch1LatencyMilliseconds") for k in ("ongko", "ort", "torch"))
                print(f"| {name} | {threads} | {o:,.0f} | {r:,.0f} | {t:,.0f} | {o / r:.2f}x | {o / t:.2f}x "
                      f"| {ol:.3f} | {rl:.3f} | {tl:.3f} | {ol / rl:.2f}x | {ol / tl:.2f}x |", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print("Ratios: Ongko/other; above 1x Ongko is faster for img/s, below 1x Ongko is faster for latency (ms).")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ongko", default=os.path.join(ROOT, "src", "Ongko.Cli", "bin", "Release", "net10.0", "Ongko.Cli"))
    parser.add_argument("--python", default="/usr/bin/python3")
    parser.add_argument("--openblas", default=os.path.join(ROOT, "bench", ".openblas"),
                        help="folder holding OpenBLAS's libblas.so.3 for torch (default bench/.openblas; 'none' to use the system's)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--networks", default="model3,lenet,numta28-best", help="training tables to run (comma-separated)")
    parser.add_argument("--torch-train", choices=["best", "plain"], default="best",
                        help="PyTorch's training setting: best = the fastest of NCHW and channels-last at 1 and --threads "
                             "intra-op threads (measured in each run; the table names it), plain = NCHW at --threads")
    parser.add_argument("--sweep", action="store_true", help="also model3 at batch 1, 8, 32, 128, 512 and threads 1, 2")
    parser.add_argument("--sweep-repeats", type=int, default=2)
    parser.add_argument("--inference", action="store_true", help="only the inference table: Ongko, ONNX Runtime and PyTorch")
    parser.add_argument("--ort", default=os.path.join(ROOT, "bench", "ort", "bin", "Release", "net10.0", "OrtBench.dll"))
    args = parser.parse_args()

    torch_env = dict(os.environ)
    if args.openblas != "none" and os.path.exists(os.path.join(args.openblas, "libblas.so.3")):
        torch_env["LD_LIBRARY_PATH"] = args.openblas + ":" + torch_env.get("LD_LIBRARY_PATH", "")
    # PyTorch's best setting here: OpenBLAS's own thread pool fights torch's OpenMP pool on 2 cores
    # (training ~10x slower when both spin), so the model runs get one BLAS thread (torch still uses
    # --threads OpenMP threads for everything else) and the matmul runs alone get --threads BLAS threads.
    gemm_env = dict(torch_env, OPENBLAS_NUM_THREADS=str(args.threads))
    torch_env["OPENBLAS_NUM_THREADS"] = "1"
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    if args.inference:
        print(f"machine: {cpu}, {os.cpu_count()} cores; batch {args.batch}")
        return inference(args, torch_env)

    print(f"machine: {cpu}, {os.cpu_count()} cores; {args.repeats} repeats, A B A B, medians; "
          f"batch {args.batch}, {args.threads} threads")
    settings = {}   # network -> the PyTorch runs, for the settings they picked
    networks = args.networks.split(",")
    if "model3" in networks:
        ongko, torch = measure(args, "model3", args.batch, args.threads, True, torch_env, gemm_env)
        settings["model3"] = torch
        print(f"PyTorch: {torch[0]['Engine']}, BLAS {torch[0]['Blas']}; OPENBLAS_NUM_THREADS=1 for the models, {args.threads} for matmul")
        print()
        print(f"| model3 3x48x48, batch {args.batch}, {args.threads} threads | Ongko | PyTorch | Ongko/PyTorch | target |")
        print("|---|---:|---:|---:|---|")
        print(row("training images/s", median(ongko, "TrainImagesPerSecond"), median(torch, "TrainImagesPerSecond"), target=2.5))
        print(row("inference images/s", median(ongko, "InferImagesPerSecond"), median(torch, "InferImagesPerSecond"), target=1.5))
        print(row("batch-1 latency ms", median(ongko, "Batch1LatencyMilliseconds"), median(torch, "Batch1LatencyMilliseconds"), lower_is_better=True, target=0.5))
        for size in ("512", "1024", "2048"):
            target = 0.85 if size != "512" else None
            print(row(f"SGEMM {size} GFLOP/s", median(ongko, "GemmGflops", size), median(torch, "GemmGflops", size), target=target))
        print(row("peak RSS training MB", median(ongko, "PeakTrainingRssMegabytes"), median(torch, "PeakTrainingRssMegabytes"), lower_is_better=True))
        print(f"| bytes allocated per training step | {median(ongko, 'AllocatedBytesPerTrainStep'):,.0f} | | | 0 |")

    if "lenet" in networks:
        ongko, torch = measure(args, "lenet", args.batch, args.threads, False, torch_env)
        settings["LeNet"] = torch
        print()
        print(f"| LeNet 3x28x28, batch {args.batch}, {args.threads} threads | Ongko | PyTorch | Ongko/PyTorch | target |")
        print("|---|---:|---:|---:|---|")
        print(row("training images/s", median(ongko, "TrainImagesPerSecond"), median(torch, "TrainImagesPerSecond")))
        print(row("inference images/s", median(ongko, "InferImagesPerSecond"), median(torch, "InferImagesPerSecond")))
        print(row("batch-1 latency ms", median(ongko, "Batch1LatencyMilliseconds"), median(torch, "Batch1LatencyMilliseconds"), lower_is_better=True))

    if "numta28-best" in networks:
        ongko, torch = measure(args, "numta28-best", args.batch, args.threads, False, torch_env)
        settings["numta28-best"] = torch
        if "model3" not in networks:
            print(f"PyTorch: {torch[0]['Engine']}, BLAS {torch[0]['Blas']}; OPENBLAS_NUM_THREADS=1")
        print()
        print(f"| numta28-best 1x28x28 (BatchNorm), batch {args.batch}, {args.threads} threads | Ongko | PyTorch | Ongko/PyTorch | target |")
        print("|---|---:|---:|---:|---|")
        print(row("training images/s", median(ongko, "TrainImagesPerSecond"), median(torch, "TrainImagesPerSecond"), target=2))
        print(row("inference images/s", median(ongko, "InferImagesPerSecond"), median(torch, "InferImagesPerSecond")))
        print(row("batch-1 latency ms", median(ongko, "Batch1LatencyMilliseconds"), median(torch, "Batch1LatencyMilliseconds"), lower_is_better=True))
        print(f"| bytes allocated per training step | {median(ongko, 'AllocatedBytesPerTrainStep'):,.0f} | | | 0 |")
    print()
    print("PyTorch training settings (fastest per run): " + "; ".join(
        f"{name}: " + ", ".join(str(run.get("TrainSetting")) for run in runs) for name, runs in settings.items()))

    if args.sweep:
        print()
        print(f"Sweep: model3, {args.sweep_repeats} repeats each, A B A B, medians.")
        print("| model3 batch | threads | train Ongko | train PyTorch | ratio | infer Ongko | infer PyTorch | ratio |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for threads in (1, 2):
            for batch in (1, 8, 32, 128, 512):
                ongko, torch = measure(argparse.Namespace(**dict(vars(args), repeats=args.sweep_repeats)), "model3", batch, threads, False, torch_env)
                ot, tt = median(ongko, "TrainImagesPerSecond"), median(torch, "TrainImagesPerSecond")
                oi, ti = median(ongko, "InferImagesPerSecond"), median(torch, "InferImagesPerSecond")
                print(f"| {batch} | {threads} | {ot:,.0f} | {tt:,.0f} | {ot / tt:.2f}x | {oi:,.0f} | {ti:,.0f} | {oi / ti:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
