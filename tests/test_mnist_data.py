"""IDX files, the synthetic MNIST stand-in and the noisy-label zip."""

from __future__ import annotations

import gzip
import io
import re
import shutil
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from playing_with_mnist.demo.mnist import render_digits, write_mnist_demo
from playing_with_mnist.demo.noisy_digits import (
    CONFUSIONS,
    flip_labels,
    label_permutation,
    noise_matrix,
    noisy_label_truth,
    write_noisy_label_zip,
)
from playing_with_mnist.ingest.archive import list_archive, natural_key
from playing_with_mnist.ingest.idx import (
    IDX_TYPES,
    MNIST_FILES,
    IdxError,
    read_idx,
    read_mnist,
    write_idx,
)

TRAIN_COUNT, TEST_COUNT = 200, 50


def sample_array(dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """Values that use the whole range of ``dtype``, so a wrong byte order would show."""
    rng = np.random.default_rng(7)
    dtype = dtype.newbyteorder("=")
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 1e3).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mnist_demo(tmp_path_factory.mktemp("mnist"), train_count=TRAIN_COUNT, test_count=TEST_COUNT, seed=0)


@pytest.fixture(scope="module")
def demo(demo_folder: Path) -> dict[str, np.ndarray]:
    return read_mnist(demo_folder)


# --- IDX ------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("code", sorted(IDX_TYPES))
def test_idx_round_trip_for_every_type(tmp_path: Path, code: int, suffix: str) -> None:
    dtype = IDX_TYPES[code]
    for shape in [(5,), (3, 4, 2)]:
        array = sample_array(dtype, shape)
        path = write_idx(tmp_path / f"a{len(shape)}.idx{suffix}", array)
        raw = path.read_bytes()
        assert (raw[:2] == b"\x1f\x8b") == (suffix == ".gz")
        header = gzip.decompress(raw) if suffix else raw
        assert header[:4] == bytes([0, 0, code, len(shape)])
        back = read_idx(path)
        assert back.dtype == dtype.newbyteorder("=") and back.dtype.isnative
        assert back.shape == shape
        np.testing.assert_array_equal(back, array)
        back[...] = 0  # the result is a writable copy


def test_gzip_is_detected_by_content_not_name(tmp_path: Path) -> None:
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    packed = write_idx(tmp_path / "a.gz", array)
    plain = write_idx(tmp_path / "b", array)
    np.testing.assert_array_equal(read_idx(shutil.copy(packed, tmp_path / "packed-without-suffix")), array)
    np.testing.assert_array_equal(read_idx(shutil.copy(plain, tmp_path / "plain-named.gz")), array)


def test_big_endian_on_disk(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "a", np.array([1, 258], dtype=np.int32))
    assert path.read_bytes() == bytes([0, 0, 0x0C, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 1, 2])


def idx_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    code = {np.dtype(v).newbyteorder("="): k for k, v in IDX_TYPES.items()}[array.dtype]
    buffer.write(bytes([0, 0, code, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape))
    buffer.write(array.astype(IDX_TYPES[code]).tobytes())
    return buffer.getvalue()


GOOD = idx_bytes(np.arange(24, dtype=np.int16).reshape(2, 3, 4))


def test_reads_a_file_written_by_the_spec(tmp_path: Path) -> None:
    path = tmp_path / "spec.idx"
    path.write_bytes(GOOD)
    np.testing.assert_array_equal(read_idx(path), np.arange(24, dtype=np.int16).reshape(2, 3, 4))


BROKEN = [
    ("bad-magic.idx", b"\x01\x00" + GOOD[2:], "bad magic number 0x0100"),
    ("unknown-type.idx", GOOD[:2] + b"\x0a" + GOOD[3:], "unknown IDX type code 0x0A"),
    ("zero-dims.idx", b"\x00\x00\x08\x00", "zero dimensions"),
    ("short.idx", b"\x00\x00", "truncated: 2 bytes"),
    ("short-header.idx", GOOD[:10], "truncated: the header declares 3 dimensions"),
    ("truncated.idx", GOOD[:-3], "truncated: dimensions [2, 3, 4] of int16 need 48 bytes of data, the file has 45"),
    ("long.idx", GOOD + b"\x00", "1 unexpected byte(s) after the 48 bytes of data"),
    ("truncated.idx.gz", gzip.compress(GOOD)[:-12], "damaged or truncated gzip data"),
    ("truncated-inside.idx.gz", gzip.compress(GOOD[:-2]), "truncated: dimensions [2, 3, 4]"),
]


@pytest.mark.parametrize(("name", "content", "message"), BROKEN, ids=[case[0] for case in BROKEN])
def test_broken_files_are_named_and_explained(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IdxError, match=re.escape(message)) as caught:
        read_idx(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(IdxError, match="nothere.idx: file not found"):
        read_idx(tmp_path / "nothere.idx")


def test_unwritable_arrays_are_refused(tmp_path: Path) -> None:
    with pytest.raises(IdxError, match="cannot write int64"):
        write_idx(tmp_path / "a.idx", np.zeros(3, dtype=np.int64))
    with pytest.raises(IdxError, match="0-dimensional"):
        write_idx(tmp_path / "b.idx", np.uint8(3))
    assert list(tmp_path.iterdir()) == []  # no partial files left behind


# --- MNIST files ------------------------------------------------------------------------


def test_read_mnist_on_the_demo(demo_folder: Path, demo: dict[str, np.ndarray]) -> None:
    assert sorted(p.name for p in demo_folder.iterdir()) == sorted(MNIST_FILES.values())
    assert demo["train_images"].shape == (TRAIN_COUNT, 28, 28) and demo["train_labels"].shape == (TRAIN_COUNT,)
    assert demo["test_images"].shape == (TEST_COUNT, 28, 28) and demo["test_labels"].shape == (TEST_COUNT,)
    assert all(array.dtype == np.uint8 for array in demo.values())
    assert np.bincount(demo["train_labels"], minlength=10).tolist() == [TRAIN_COUNT // 10] * 10
    assert np.bincount(demo["test_labels"], minlength=10).tolist() == [TEST_COUNT // 10] * 10
    # Not sorted by label: the order is shuffled.
    assert (np.diff(demo["train_labels"].astype(int)) != 1).mean() > 0.5
    # Training and test digits are drawn apart: no test image is also a training image.
    train = {image.tobytes() for image in demo["train_images"]}
    assert not any(image.tobytes() in train for image in demo["test_images"])


def test_read_mnist_accepts_unpacked_files(demo_folder: Path, tmp_path: Path) -> None:
    for name in MNIST_FILES.values():
        (tmp_path / name.removesuffix(".gz")).write_bytes(gzip.decompress((demo_folder / name).read_bytes()))
    assert read_mnist(tmp_path)["test_labels"].shape == (TEST_COUNT,)


def test_read_mnist_errors_name_the_file(demo_folder: Path, tmp_path: Path) -> None:
    for name in MNIST_FILES.values():
        shutil.copy(demo_folder / name, tmp_path / name)
    (tmp_path / MNIST_FILES["test_labels"]).unlink()
    with pytest.raises(IdxError, match="t10k-labels-idx1-ubyte.gz: file not found. Put the standard MNIST IDX files"):
        read_mnist(tmp_path)

    write_idx(tmp_path / MNIST_FILES["test_labels"], np.zeros(TEST_COUNT - 1, np.uint8))
    with pytest.raises(IdxError, match=f"holds {TEST_COUNT} images but t10k-labels-idx1-ubyte.gz holds {TEST_COUNT - 1}"):
        read_mnist(tmp_path)

    write_idx(tmp_path / MNIST_FILES["test_labels"], np.full(TEST_COUNT, 10, np.uint8))
    with pytest.raises(IdxError, match="t10k-labels-idx1-ubyte.gz: label 10 is outside 0-9"):
        read_mnist(tmp_path)

    write_idx(tmp_path / MNIST_FILES["test_labels"], np.zeros(TEST_COUNT, np.int32))
    with pytest.raises(IdxError, match="t10k-labels-idx1-ubyte.gz: holds int32"):
        read_mnist(tmp_path)

    write_idx(tmp_path / MNIST_FILES["test_images"], np.zeros((TEST_COUNT, 32, 32), np.uint8))
    with pytest.raises(IdxError, match="t10k-images-idx3-ubyte.gz: images are 32x32"):
        read_mnist(tmp_path)


# --- synthetic digits -------------------------------------------------------------------


def test_demo_is_deterministic(demo_folder: Path, demo: dict[str, np.ndarray], tmp_path: Path) -> None:
    again = write_mnist_demo(tmp_path / "again", train_count=TRAIN_COUNT, test_count=TEST_COUNT, seed=0)
    for name in MNIST_FILES.values():
        assert (again / name).read_bytes() == (demo_folder / name).read_bytes(), name

    other = read_mnist(write_mnist_demo(tmp_path / "other", train_count=TRAIN_COUNT, test_count=TEST_COUNT, seed=1))
    assert (other["train_images"] != demo["train_images"]).any(axis=(1, 2)).all()
    assert (other["train_labels"] != demo["train_labels"]).any()


def test_digits_can_be_rendered_in_pieces() -> None:
    images, labels = render_digits(23, seed=5)
    part_images, part_labels = render_digits(9, seed=5, start=14)
    np.testing.assert_array_equal(part_images, images[14:])
    np.testing.assert_array_equal(part_labels, labels[14:])
    empty_images, empty_labels = render_digits(0, seed=5)
    assert empty_images.shape == (0, 28, 28) and empty_labels.shape == (0,)


def test_digits_look_like_mnist(demo: dict[str, np.ndarray]) -> None:
    images = demo["train_images"].astype(np.float64)
    frame = np.ones((28, 28), bool)
    frame[3:-3, 3:-3] = False
    assert images[:, frame].mean() < 2  # black background, ink inside the 20x20 box
    assert np.median(images) == 0
    assert 15 < images.mean() < 70  # MNIST's mean pixel is about 33
    assert (images.max(axis=(1, 2)) >= 250).all()  # white strokes
    assert ((images > 0) & (images < 255)).any(axis=(1, 2)).all()  # antialiased edges

    # Each digit fills its 20x20 box along its longer side.
    inked_rows = (images > 64).any(axis=2)
    inked_cols = (images > 64).any(axis=1)
    extent = np.maximum(inked_rows.sum(1), inked_cols.sum(1))
    assert (extent >= 17).mean() > 0.9 and (extent <= 22).all()

    grid = np.arange(28)
    mass = images.sum(axis=(1, 2))
    centre_y = (images.sum(axis=2) * grid).sum(1) / mass
    centre_x = (images.sum(axis=1) * grid).sum(1) / mass
    assert np.hypot(centre_y - 13.5, centre_x - 13.5).mean() < 3


# --- label noise ------------------------------------------------------------------------


def test_noise_matrix() -> None:
    noise = noise_matrix(0.3, seed=0)
    assert noise.shape == (10, 10)
    np.testing.assert_allclose(noise.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.diag(noise), 0.7)
    assert (noise > 0).all()
    for true, confusions in CONFUSIONS.items():
        others = [d for d in range(10) if d != true and d not in confusions]
        assert noise[true, list(confusions)].sum() > noise[true, others].sum()
    assert not np.array_equal(noise, noise_matrix(0.3, seed=1))
    np.testing.assert_array_equal(noise, noise_matrix(0.3, seed=0))
    np.testing.assert_array_equal(noise_matrix(0.0, seed=0), np.eye(10))
    with pytest.raises(ValueError, match="between 0 and 1"):
        noise_matrix(1.5, seed=0)


def test_label_permutation_is_a_seeded_derangement() -> None:
    for seed in range(50):
        perm = label_permutation(seed)
        assert sorted(perm.tolist()) == list(range(10))  # a permutation ...
        assert (perm != np.arange(10)).all()  # ... without a fixed point
    assert np.array_equal(label_permutation(3), label_permutation(3))
    assert len({tuple(label_permutation(seed)) for seed in range(50)}) > 40  # seeds give different maps
    assert (label_permutation(0, num_classes=2) == [1, 0]).all()
    with pytest.raises(ValueError, match="num_classes"):
        label_permutation(0, num_classes=1)


@pytest.mark.parametrize("noise_rate", [0.7, 0.9, 1.0])
def test_systematic_noise_matrix_sends_each_digit_to_one_other(noise_rate: float) -> None:
    noise = noise_matrix(noise_rate, seed=5, kind="systematic")
    perm = label_permutation(5)
    assert noise.shape == (10, 10) and (noise >= 0).all()
    np.testing.assert_allclose(noise.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.diag(noise), 1.0 - noise_rate)  # most labels are wrong
    # Row t: most of its mass on perm[t], the rest thin; column perm[t] (a folder) holds mostly digit t.
    off_diagonal = noise - np.diag(np.diag(noise))
    assert (off_diagonal.argmax(axis=1) == perm).all()
    assert (noise[np.arange(10), perm] > 0.5).all()
    assert (noise[np.arange(10), perm] > 10 * np.sort(off_diagonal, axis=1)[:, -2]).all()  # one other digit, not a spread
    assert (noise.argmax(axis=0)[perm] == np.arange(10)).all()
    np.testing.assert_array_equal(noise, noise_matrix(noise_rate, seed=5, kind="systematic"))
    assert not np.array_equal(noise, noise_matrix(noise_rate, seed=6, kind="systematic"))


def test_noise_kind_default_is_random_and_unknown_kinds_are_named() -> None:
    np.testing.assert_array_equal(noise_matrix(0.3, seed=0), noise_matrix(0.3, seed=0, kind="random"))
    assert not np.allclose(noise_matrix(0.9, seed=0), noise_matrix(0.9, seed=0, kind="systematic"))
    with pytest.raises(ValueError, match="noise_kind.*random, systematic.*'sorted'"):
        noise_matrix(0.3, seed=0, kind="sorted")


def test_the_truth_of_systematic_noise_follows_its_matrix() -> None:
    noise = noise_matrix(0.9, seed=1, kind="systematic")
    truth = noisy_label_truth(5000, noise, seed=2)
    true, noisy = truth["true_labels"], truth["noisy_labels"]
    np.testing.assert_array_equal(truth["noise_matrix"], noise)
    empirical = np.zeros((10, 10))
    np.add.at(empirical, (true, noisy), 1)
    empirical /= empirical.sum(axis=1, keepdims=True)
    # 500 images per row: a share's sd is at most sqrt(0.25 / 500) = 0.022.
    assert np.abs(empirical - noise).max() < 0.08
    assert abs((true != noisy).mean() - 0.9) < 0.02
    # Each folder mostly holds the one digit that the permutation sends there.
    perm = label_permutation(1)
    for folder in range(10):
        held = np.bincount(true[noisy == folder], minlength=10)
        assert held.argmax() == np.flatnonzero(perm == folder)[0] and held.max() > 0.6 * held.sum()


def test_flip_labels_follows_the_matrix() -> None:
    labels = np.repeat(np.arange(10, dtype=np.uint8), 3)
    np.testing.assert_array_equal(flip_labels(labels, np.eye(10), seed=0), labels)
    np.testing.assert_array_equal(flip_labels(labels, np.roll(np.eye(10), 1, axis=1), seed=0), (labels + 1) % 10)
    with pytest.raises(ValueError, match="rows sum to 1"):
        flip_labels(labels, np.full((10, 10), 0.2), seed=0)


def test_noisy_label_zip(tmp_path: Path) -> None:
    noise = noise_matrix(0.3, seed=2)
    count = 3000
    path = tmp_path / "noisy.zip"
    result = write_noisy_label_zip(path, count, noise, seed=4)
    true, noisy = result["true_labels"], result["noisy_labels"]
    np.testing.assert_array_equal(result["noise_matrix"], noise)
    assert true.shape == noisy.shape == (count,)
    assert np.bincount(true, minlength=10).tolist() == [count // 10] * 10

    # The flips follow the matrix: row t of the empirical matrix is the labels given true digit t.
    empirical = np.zeros((10, 10))
    np.add.at(empirical, (true, noisy), 1)
    empirical /= empirical.sum(axis=1, keepdims=True)
    assert np.abs(empirical - noise).max() < 0.08
    assert abs((true != noisy).mean() - 0.3) < 0.03

    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        folders = Counter(name.split("/")[0] for name in names if not name.endswith("/"))
        assert {name.split("/")[0] for name in names} == {str(d) for d in range(10)}
        assert all(re.fullmatch(r"[0-9]/(\d{5}\.png)?", name) for name in names)  # only folders and PNGs
        assert sorted(name for name in names if name.endswith("/")) == [f"{d}/" for d in range(10)]
        assert [folders[str(d)] for d in range(10)] == np.bincount(noisy, minlength=10).tolist()
        # File number i + 1 sits in the folder of sample i's noisy label.
        for i in (0, 1, count - 1):
            assert f"{noisy[i]}/{i + 1:05d}.png" in names
        for name in names[10:15]:
            image = Image.open(io.BytesIO(archive.read(name)))
            assert image.mode == "L" and image.size == (28, 28)
        # The project's own zip reader sees ten classes 0..9 with the noisy labels.
        listing = list_archive(archive, path.name)
    assert listing.class_folders == sorted(listing.class_folders, key=natural_key) == [str(d) for d in range(10)]
    assert Counter(listing.labels) == Counter(noisy.tolist())
    assert list(tmp_path.iterdir()) == [path]  # written atomically: no temporary files left


def test_noisy_label_zip_is_deterministic(tmp_path: Path) -> None:
    noise = noise_matrix(0.5, seed=0)
    first = write_noisy_label_zip(tmp_path / "a.zip", 40, noise, seed=1)
    second = write_noisy_label_zip(tmp_path / "b.zip", 40, noise, seed=1)
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    np.testing.assert_array_equal(first["noisy_labels"], second["noisy_labels"])
