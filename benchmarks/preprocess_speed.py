"""Preprocess speed on a full-size set: decoding cold, and a run that finds the cache.

Run by hand (not a test):

    python benchmarks/preprocess_speed.py                  # the demo set: 62 x 40 PNGs at 1200x900
    python benchmarks/preprocess_speed.py --zip data/01_raw/trainPart1.zip

Times, on all cores: the cold decode of every image to 32x32 gray (``build_image_cache``),
saving the cache, loading it back (what ``kedro run --pipelines=train`` pays), and a second
``build_image_cache`` that finds the cache up to date (fingerprint check only).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from playing_with_mnist.datasets import TorchObjectDataset  # noqa: E402
from playing_with_mnist.demo.characters import demo_file_name, write_demo_zip  # noqa: E402
from playing_with_mnist.ingest.archive import CharacterArchive  # noqa: E402
from playing_with_mnist.pipelines.preprocess.nodes import build_image_cache  # noqa: E402

PARAMS = {"image_size": 32, "max_broken_fraction": 0.05, "min_images_per_class": 2, "workers": 0}


def timed(label: str, function, *args):
    start = time.perf_counter()
    result = function(*args)
    print(f"{label:48s} {time.perf_counter() - start:7.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zip", type=Path)
    args = parser.parse_args()
    zip_path = args.zip or Path("data/01_raw/demo") / demo_file_name(0, 40, (1200, 900))
    if not zip_path.exists():
        timed("generate the demo set (once)", write_demo_zip, zip_path)
    print(f"{zip_path.name}: {zip_path.stat().st_size / 1e6:.0f} MB, {os.cpu_count()} cores")

    archive = timed("open + sha256 fingerprint", CharacterArchive.from_zip, zip_path)
    cache, summary = timed("cold: decode all images to 32x32 gray", build_image_cache, archive, None, PARAMS)
    print(f"  {summary['images']} images, {summary['classes']} classes")
    with tempfile.TemporaryDirectory() as folder:
        dataset = TorchObjectDataset(str(Path(folder) / "character_images.pt"))
        timed("save the cache", dataset.save, cache)
        loaded = timed("load the cache (what the train pipeline pays)", dataset.load)
        again = CharacterArchive.from_zip(zip_path)
        start = time.perf_counter()
        reused, _ = build_image_cache(again, loaded, PARAMS)
        print(f"{'warm: fingerprint + cache check, nothing decoded':48s} {time.perf_counter() - start:7.2f} s")
        assert reused is loaded
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
