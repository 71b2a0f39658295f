"""``playing-with-mnist download [trainPart1|mnist|all]``: the real data, verified, where the catalog reads it.

This is the only part of the project that uses the network; ``kedro run`` never does.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .targets import DATA_DIR, MNIST_FOLDER, TRAIN_PART1_NAME, TRAIN_PART1_URL, download_mnist, download_train_part1, manifest_path
from .transfer import DEFAULT_TIMEOUT, ConsoleProgress, DownloadError

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130  # the shell's code for Ctrl-C


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="playing-with-mnist download",
        description=(
            f"Download the real data into the folders `kedro run` reads: {TRAIN_PART1_NAME} (the seed's "
            f"link) into {DATA_DIR}/, the four MNIST files (torchvision's mirrors) into "
            f"{DATA_DIR / MNIST_FOLDER}/. Every file is verified before it is moved into place; an "
            "interrupted download resumes when the command is run again. Proxies: HTTPS_PROXY, HTTP_PROXY."
        ),
    )
    parser.add_argument("what", nargs="?", default="all", choices=["trainPart1", "mnist", "all"],
                        help="what to download (default: all)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help=f"folder of the raw data (default: {DATA_DIR}, relative to the project's root)")
    parser.add_argument("--url", default=TRAIN_PART1_URL, help="where to get trainPart1.zip (default: the seed's link)")
    parser.add_argument("--mnist-mirror", action="append", dest="mirrors", metavar="URL",
                        help="base URL of an MNIST mirror (repeatable; default: torchvision's mirrors)")
    parser.add_argument("--force", action="store_true", help="download again even when a verified file is there")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds to wait for a server before giving up (default: {DEFAULT_TIMEOUT:.0f})")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command on ``argv`` (the arguments after ``download``); return the exit code."""
    args = build_parser().parse_args(argv)
    report = ConsoleProgress()
    # The default folder is relative: make sure this is the project's root, not some other folder.
    if args.data_dir is None and not DATA_DIR.parent.is_dir():
        report.note(f"Error: there is no {DATA_DIR.parent}/ folder in {Path.cwd()}: run the command from the "
                    "project's root folder, or pass --data-dir.")
        return EXIT_FAILED
    data_dir, failed = args.data_dir or DATA_DIR, False
    options = dict(force=args.force, progress=report, timeout=args.timeout)
    for what in ("trainPart1", "mnist") if args.what == "all" else [args.what]:
        try:
            if what == "trainPart1":
                path, downloaded = download_train_part1(data_dir, args.url, **options)
                report.note(f"{path}: verified and in place; sha256 recorded in {manifest_path(path).name}"
                            if downloaded else f"{path}: already there and verified (--force downloads it again)")
            else:  # mirrors given or not, the MD5s are torchvision's published ones
                results = download_mnist(data_dir, args.mirrors, **options)
                fetched = sum(downloaded for _, downloaded in results)
                report.note(f"{data_dir / MNIST_FOLDER}: the four MNIST files are in place, MD5s verified "
                            f"({fetched} downloaded, {len(results) - fetched} already there)")
        except (DownloadError, OSError) as error:  # OSError: e.g. a data folder that cannot be written
            report.note(f"Error: {error}")
            failed = True
        except KeyboardInterrupt:
            report.note("Interrupted. What arrived is kept: run the same command again to resume.")
            return EXIT_INTERRUPTED
    return EXIT_FAILED if failed else 0
