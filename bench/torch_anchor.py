#!/usr/bin/python3
"""PyTorch anchor for `ongko bench`: the same architectures on the same kind of random batches.

Prints one JSON object with the same keys as `ongko bench --json`:
training images/s (forward, cross-entropy, backward, SGD momentum step: what `ongko bench` times, i.e. plain
cross-entropy and SGD lr 0.001 momentum 0.9, whatever the config's optimizer and label smoothing), inference images/s
(no_grad), batch-1 latency (ms) and torch.matmul GFLOP/s at 512/1024/2048. Medians over repeats.

    /usr/bin/python3 bench/torch_anchor.py --model model3 --batch 128 --threads 2

With --module FILE.py (a module written by `ongko export --format torch`) and --shape C,H,W it times that
network's inference only (no training, no GEMM): contiguous and channels-last layouts, the faster of the two.
"""
import argparse, importlib.util, json, resource, statistics, time
import torch
import torch.nn as nn

MODELS = {
    # name: (input shape, layer builder)
    "model3": ((3, 48, 48), lambda: nn.Sequential(
        nn.Conv2d(3, 16, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(16, 32, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(32, 32, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Linear(32 * 6 * 6, 1024), nn.ReLU(), nn.Linear(1024, 512), nn.ReLU(), nn.Linear(512, 10))),
    "lenet": ((3, 28, 28), lambda: nn.Sequential(
        nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))),
    # configs/numta28-best.yaml (the final Softmax is left to the loss, as in Ongko's training step)
    "numta28-best": ((1, 28, 28), lambda: nn.Sequential(
        nn.Conv2d(1, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(32, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.Conv2d(64, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(64, 128, 3, 1, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(128 * 3 * 3, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(),
        nn.Dropout(0.2), nn.Linear(256, 10))),
}


def median_seconds(action, budget):
    action()
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < 1000):
        t = time.perf_counter()
        action()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def blas_library():
    """Which BLAS shared library torch loaded (Debian's torch follows the libblas.so.3 it finds)."""
    torch.matmul(torch.rand(64, 64), torch.rand(64, 64))
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "blas" in line.split()[-1].lower()}
    return ", ".join(sorted(paths)) or "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(MODELS), default="model3")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--train-settings", choices=["plain", "best"], default="plain",
                        help="best: time training in NCHW and channels-last at 1 and --threads intra-op threads and report the "
                             "fastest (TrainSetting); plain: NCHW at --threads only")
    parser.add_argument("--no-gemm", action="store_true")
    parser.add_argument("--only-gemm", action="store_true", help="only the torch.matmul figures")
    parser.add_argument("--module", help="time the inference of a module exported by `ongko export --format torch`")
    parser.add_argument("--shape", help="with --module: one sample's shape, C,H,W")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    if args.module:
        return exported_inference(args)

    shape, build = MODELS[args.model]
    model = build()
    images = torch.rand(args.batch, *shape)
    labels = torch.randint(0, 10, (args.batch,))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()

    train = infer = latency = float("nan")
    settings, best = {}, None
    if not args.only_gemm:
        # Training in each layout at each intra-op thread count asked for; the fastest is the anchor.
        for layout in (torch.contiguous_format, torch.channels_last) if args.train_settings == "best" else (torch.contiguous_format,):
            model.to(memory_format=layout)
            images = images.contiguous(memory_format=layout)
            for threads in sorted({1, args.threads}) if args.train_settings == "best" else (args.threads,):
                torch.set_num_threads(threads)
                name = f"{'channels-last' if layout == torch.channels_last else 'NCHW'}, {threads} thread(s)"
                settings[name] = args.batch / median_seconds(train_step, args.seconds)
        best = max(settings, key=settings.get)
        train = args.batch / settings[best]
        torch.set_num_threads(args.threads)
        model.to(memory_format=torch.contiguous_format)
        images = images.contiguous()
        model.eval()   # inference as Ongko's: BatchNorm's running statistics, no Dropout
        with torch.no_grad():
            infer = median_seconds(lambda: torch.softmax(model(images), 1), args.seconds)
            single = images[:1].clone()
            latency = median_seconds(lambda: torch.softmax(model(single), 1), min(args.seconds, 2))
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB -> MB, after training

    gflops = {}
    if not args.no_gemm:
        for size in (512, 1024, 2048):
            a, b = torch.rand(size, size), torch.rand(size, size)
            c = torch.empty(size, size)
            t = median_seconds(lambda: torch.matmul(a, b, out=c), min(args.seconds, 3))
            gflops[str(size)] = 2.0 * size ** 3 / t / 1e9

    print(json.dumps({
        "Engine": f"PyTorch {torch.__version__}", "Model": args.model, "Batch": args.batch, "Threads": torch.get_num_threads(),
        "TrainStepsPerSecond": 1 / train, "TrainImagesPerSecond": args.batch / train,
        "InferImagesPerSecond": args.batch / infer, "Batch1LatencyMilliseconds": latency * 1000,
        "TrainSetting": best, "TrainImagesPerSecondBySetting": settings, "PeakTrainingRssMegabytes": peak_rss, "Blas": blas_library(), "GemmGflops": gflops,
    }, indent=2))


def exported_inference(args):
    """Inference of an exported module: images/s at --batch and batch-1 latency, best of NCHW and channels-last."""
    spec = importlib.util.spec_from_file_location("exported", args.module)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.load()
    shape = tuple(int(d) for d in args.shape.split(","))
    results = {}
    with torch.no_grad():
        for layout in (torch.contiguous_format, torch.channels_last):
            net = model.to(memory_format=layout)
            images = torch.rand(args.batch, *shape).contiguous(memory_format=layout)
            single = images[:1].clone().contiguous(memory_format=layout)
            infer = median_seconds(lambda: net(images), args.seconds)
            latency = median_seconds(lambda: net(single), min(args.seconds, 2))
            results["channels-last" if layout == torch.channels_last else "NCHW"] = (infer, latency)
    layout, (infer, latency) = min(results.items(), key=lambda item: item[1][0])
    print(json.dumps({
        "Engine": f"PyTorch {torch.__version__}", "Model": args.module, "Batch": args.batch, "Threads": torch.get_num_threads(),
        "InferImagesPerSecond": args.batch / infer, "Batch1LatencyMilliseconds": min(r[1] for r in results.values()) * 1000,
        "Layout": layout, "Blas": blas_library(),
    }, indent=2))


if __name__ == "__main__":
    main()
