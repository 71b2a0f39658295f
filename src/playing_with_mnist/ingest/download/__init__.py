"""Download the real data sets (trainPart1.zip, MNIST), verified, into the folders the catalog reads.

Used only by the ``playing-with-mnist download`` command: nothing else in the project
touches the network.
"""

from .targets import (
    TRAIN_PART1_URL,
    ZipExpectation,
    check_character_zip,
    download_mnist,
    download_train_part1,
    manifest_path,
)
from .transfer import DownloadError, VerificationError, fetch, partial_path

__all__ = [
    "DownloadError",
    "TRAIN_PART1_URL",
    "VerificationError",
    "ZipExpectation",
    "check_character_zip",
    "download_mnist",
    "download_train_part1",
    "fetch",
    "manifest_path",
    "partial_path",
]
