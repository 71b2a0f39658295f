"""Training speed: a plain PyTorch baseline against the project's training node.

Run by hand (not a test):

    python benchmarks/train_speed.py                       # demo set, 3 epochs each
    python benchmarks/train_speed.py --zip data/01_raw/trainPart1.zip --epochs 5

Each measurement runs in its own subprocess so that peak memory is its own:

1. baseline: what the seed's author would have written - the PNGs unpacked to folders,
   torchvision ``ImageFolder`` with ``Grayscale, Resize((32, 32)), ToTensor`` decoding every
   image every epoch, a ``DataLoader``, fp32, the same model and hyper-parameters, on the
   GPU when there is one;
2. bare: a bare PyTorch training step on in-memory tensors in the project's precision
   (the ceiling for the pipeline);
3. project: the project's ``train_model`` node on the cached tensors (auto device/precision);
4. project_fp32: the same node forced to fp32, for the accuracy comparison with bf16;
5. project_compile, project_nchw (only when named in --parts): the node with
   ``train.compile=true``, or with ``train.channels_last=false``;
6. project_tuned (only when named): the node with conf/tuned's options (augmentation,
   label smoothing, one-cycle, EMA, normalisation; epochs as given), against ``project``
   for what the recipe costs per image;
7. augment (only when named): the augmentation alone (conf/tuned's, plus elastic distortion
   and erasing) on batches of 32, in milliseconds per batch, beside the bare step's.

The full seed configuration on a GPU: ``--parts project --epochs 50`` (the node's total
seconds are printed).

Then the machine's own matmul peak in each precision, and the achieved FLOP/s against it
(9.31 GFLOP per trained image, 3.11 per evaluated one, counted by torch.utils.flop_counter).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from playing_with_mnist.demo.characters import demo_file_name, write_demo_zip  # noqa: E402
from playing_with_mnist.ingest.archive import CharacterArchive  # noqa: E402
from playing_with_mnist.ingest.model_input import split_train_val
from playing_with_mnist.models import ResNetConfig, build_model  # noqa: E402
from playing_with_mnist.pipelines.preprocess.nodes import build_image_cache  # noqa: E402
from playing_with_mnist.training.augment import AugmentConfig, augment_batch  # noqa: E402
from playing_with_mnist.training.config import TrainConfig  # noqa: E402
from playing_with_mnist.training.hardware import select_device, select_precision  # noqa: E402
from playing_with_mnist.training.pipeline import train_model  # noqa: E402

PREPROCESS = {"image_size": 32, "max_broken_fraction": 0.05, "min_images_per_class": 2, "workers": 0}
SPLIT = {"val_fraction": 0.2, "seed": 42}
SEED_TRAIN = {"lr": 0.001, "weight_decay": 0.0001, "batch_size": 32, "val_batch_size": 64, "dropout": 0.7, "seed": 42}


def flops_per_image(device: torch.device, num_classes: int) -> tuple[float, float]:
    """(train, eval) FLOPs per image, counted by torch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build_model(ResNetConfig(num_classes=num_classes)).to(device)
    x = torch.rand(8, 1, 32, 32, device=device)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), torch.zeros(8, dtype=torch.long, device=device)).backward()
    train = counter.get_total_flops() / 8
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(x)
    return train, counter.get_total_flops() / 8


def matmul_peak(device: torch.device, precision: str) -> float:
    """Measured FLOP/s of a large square matmul: the practical limit of this machine."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    n = 8192 if device.type == "cuda" else 1024
    a, b = torch.rand(n, n, device=device, dtype=dtype), torch.rand(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    repeats, start = 0, time.perf_counter()
    while time.perf_counter() - start < 2.0:
        a @ b
        repeats += 1
    sync()
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def peak_memory_mb(device: torch.device) -> dict[str, float]:
    result = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if device.type == "cuda":
        result["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 1024**2
    return result


def load_cache(zip_path: Path) -> tuple[dict, dict]:
    cache, _ = build_image_cache(CharacterArchive.from_zip(zip_path), None, PREPROCESS)
    return cache, split_train_val(cache, SPLIT)


def run_baseline(zip_path: Path, epochs: int) -> dict:
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    torch.manual_seed(42)
    with tempfile.TemporaryDirectory() as folder:
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(folder)
        root = next(p for p in Path(folder).rglob("*") if p.is_dir() and any(c.is_dir() for c in p.iterdir()) and not any(c.is_file() for c in p.iterdir()))
        transform = transforms.Compose([transforms.Grayscale(), transforms.Resize((32, 32)), transforms.ToTensor()])
        dataset = datasets.ImageFolder(str(root), transform=transform)
        _, split = load_cache(zip_path)  # the same images in train and val as the project uses
        train = DataLoader(Subset(dataset, split["train"].tolist()), batch_size=32, shuffle=True)
        val = DataLoader(Subset(dataset, split["val"].tolist()), batch_size=64)
        device = select_device("auto")
        model = build_model(ResNetConfig(num_classes=len(dataset.classes))).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.001, weight_decay=0.0001)
        epoch_seconds, train_seconds, val_accuracy = [], [], 0.0
        for _ in range(epochs):
            start = time.perf_counter()
            model.train()
            for x, y in train:
                x, y = x.to(device), y.to(device)
                loss = F.cross_entropy(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            train_seconds.append(time.perf_counter() - start)
            model.eval()
            correct = total = 0
            with torch.no_grad():
                for x, y in val:
                    x, y = x.to(device), y.to(device)
                    correct += (model(x).argmax(1) == y).sum().item()
                    total += len(y)
            val_accuracy = correct / total
            epoch_seconds.append(time.perf_counter() - start)
    n_train = len(split["train"])
    return {"name": "baseline (ImageFolder + DataLoader, fp32)", "precision": "fp32", "device": device.type,
            "train_images": n_train, "epoch_seconds": epoch_seconds, "train_seconds": train_seconds,
            "node_seconds": sum(epoch_seconds), "final_val_accuracy": val_accuracy, **peak_memory_mb(device)}


def run_bare(zip_path: Path, steps: int) -> dict:
    device = select_device("auto")
    precision = select_precision("auto", device)
    torch.manual_seed(42)
    model = build_model(ResNetConfig(num_classes=62)).to(device)
    channels_last = device.type == "cuda" or precision == "bf16"
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, weight_decay=0.0001)
    x = torch.rand(32, 1, 32, 32, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, 62, (32,), device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = F.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(5):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    seconds = time.perf_counter() - start
    return {"name": f"bare PyTorch step ({precision})", "precision": precision, "device": device.type,
            "train_images_per_second": 32 * steps / seconds, **peak_memory_mb(device)}


def run_project(zip_path: Path, epochs: int, precision: str, compile_model: bool = False, channels_last: str | bool = "auto",
                options: dict | None = None) -> dict:
    cache, split = load_cache(zip_path)
    config = TrainConfig.from_params(
        {**SEED_TRAIN, "epochs": epochs, "precision": precision, "compile": compile_model, "channels_last": channels_last}, options)
    start = time.perf_counter()
    trained, history = train_model(cache, split, config)
    total = time.perf_counter() - start
    device = torch.device(trained.run.device_type)
    compiled = (", compiled" if trained.run.compiled else "") + ("" if trained.run.channels_last else ", NCHW") + (
        ", tuned recipe" if options else "")
    return {"name": f"project train_model ({trained.run.precision}{compiled})", "precision": trained.run.precision,
            "device": trained.run.device, "train_images": len(split["train"]),
            "epoch_seconds": history["seconds"].tolist(), "train_seconds": history["train_seconds"].tolist(), "node_seconds": total,
            "final_val_accuracy": float(history["val_accuracy"].iloc[-1]), **peak_memory_mb(device)}


def tuned_options() -> dict:
    """conf/tuned's train settings that go beyond the seed's (epochs and device left to the run)."""
    import yaml

    tuned = yaml.safe_load((Path(__file__).resolve().parents[1] / "conf/tuned/parameters_train.yml").read_text())["train"]
    return {k: v for k, v in tuned.items() if k not in ("epochs", "device", "precision")}


def run_augment(batches: int) -> dict:
    device = select_device("auto")
    config = AugmentConfig(**{**tuned_options().get("augment", {}), "elastic": 2.0, "stroke": 0.5, "erase": 0.25})
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(32, 1, 32, 32, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(5):
        augment_batch(x, config, generator)
    sync()
    start = time.perf_counter()
    for _ in range(batches):
        augment_batch(x, config, generator)
    sync()
    milliseconds = (time.perf_counter() - start) / batches * 1000
    return {"name": "augmentation alone (batch 32)", "device": device.type, "ms_per_batch": milliseconds,
            "augment": config.to_dict(), **peak_memory_mb(device)}


def child(part: str, zip_path: Path, epochs: int) -> None:
    result = {
        "baseline": lambda: run_baseline(zip_path, epochs),
        "bare": lambda: run_bare(zip_path, 40),
        "project": lambda: run_project(zip_path, epochs, "auto"),
        "project_fp32": lambda: run_project(zip_path, epochs, "fp32"),
        "project_compile": lambda: run_project(zip_path, epochs, "auto", compile_model=True),
        "project_nchw": lambda: run_project(zip_path, epochs, "auto", channels_last=False),
        "project_tuned": lambda: run_project(zip_path, epochs, "auto", options=tuned_options()),
        "augment": lambda: run_augment(200),
    }[part]()
    print("RESULT " + json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zip", type=Path, help="zip in the training layout (default: the demo set, generated)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--parts", default="baseline,bare,project,project_fp32")
    parser.add_argument("--json", type=Path, default=Path(tempfile.gettempdir()) / "train_speed.json", help="where all results are written")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    zip_path = args.zip or Path("data/01_raw/demo") / demo_file_name(0, 40, (1200, 900))
    if args.child:
        return child(args.child, zip_path, args.epochs)
    if not zip_path.exists():
        write_demo_zip(zip_path)

    results = {}
    for part in args.parts.split(","):
        out = subprocess.run([sys.executable, __file__, "--child", part, "--zip", str(zip_path), "--epochs", str(args.epochs)],
                             capture_output=True, text=True, check=True)
        results[part] = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("RESULT "))[7:])
        # Each result as soon as it is there: a long run that is stopped keeps what it measured.
        print(f"done: {part} " + json.dumps(results[part]), file=sys.stderr, flush=True)

    device = select_device("auto")
    train_flops, eval_flops = flops_per_image(device, 62)
    print(f"\nmachine: {device.type}, {torch.get_num_threads()} threads; {train_flops / 1e9:.2f} GFLOP per trained image, "
          f"{eval_flops / 1e9:.2f} per evaluated image")
    peaks = {p: matmul_peak(device, p) for p in ("fp32", "bf16")}
    print("matmul peak: " + ", ".join(f"{p} {v / 1e12:.2f} TFLOP/s" for p, v in peaks.items()))
    print(f"\n{'run':45s} {'train img/s':>11s} {'s/epoch':>8s} {'total s':>8s} {'val acc':>8s} {'peak RSS MB':>11s} {'GPU MB':>7s} {'% of peak':>9s}")
    for r in results.values():
        if "ms_per_batch" in r:
            continue
        if "epoch_seconds" in r:
            steady = slice(1, None) if len(r["epoch_seconds"]) > 1 else slice(None)  # epoch 1 includes warm-up
            per_epoch = sum(r["epoch_seconds"][steady]) / len(r["epoch_seconds"][steady])
            images_per_second = r["train_images"] / (sum(r["train_seconds"][steady]) / len(r["train_seconds"][steady]))
            accuracy = f"{r['final_val_accuracy']:.3f}"
        else:
            per_epoch, images_per_second, accuracy = float("nan"), r["train_images_per_second"], "-"
        total = r.get("node_seconds", float("nan"))
        r["images_per_second"] = images_per_second
        share = images_per_second * train_flops / peaks[r["precision"]]
        print(f"{r['name']:45s} {images_per_second:11.1f} {per_epoch:8.1f} {total:8.1f} {accuracy:>8s} {r['peak_rss_mb']:11.0f} {r.get('peak_gpu_mb', float('nan')):7.0f} {share:9.0%}")
    if "baseline" in results and "project" in results:
        b, p = results["baseline"], results["project"]
        print(f"\nproject vs baseline, seconds per epoch end to end: {sum(b['epoch_seconds']) / sum(p['epoch_seconds']):.2f}x faster")
    if "bare" in results and "project" in results:
        print(f"project step vs bare step: {results['project']['images_per_second'] / results['bare']['images_per_second']:.0%} of bare")
    if "augment" in results:
        milliseconds = results["augment"]["ms_per_batch"]
        print(f"\naugmentation: {milliseconds:.2f} ms per batch of 32 on {results['augment']['device']}", end="")
        step = next((r["images_per_second"] for r in results.values() if "images_per_second" in r), None)
        print(f", {milliseconds / 1000 / (32 / step):.1%} of a training step there" if step else "")
    if "project" in results and "project_tuned" in results:
        cost = 1 - results["project_tuned"]["images_per_second"] / results["project"]["images_per_second"]
        print(f"tuned recipe vs the seed's, training images per second: {cost:+.1%} slower")
    if "project" in results and "project_fp32" in results:
        diff = results["project"]["final_val_accuracy"] - results["project_fp32"]["final_val_accuracy"]
        print(f"val accuracy {results['project']['precision']} minus fp32: {diff * 100:+.1f} points")
    args.json.write_text(json.dumps({"machine": device.type, "threads": torch.get_num_threads(), "peaks": peaks, "results": results}, indent=1))


if __name__ == "__main__":
    main()
