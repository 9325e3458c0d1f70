"""Gets MNIST, verifies it, splits a validation set off the training set, writes the dataset.

Reads:  --source (a folder of the four idx files, .gz or raw, or Keras's mnist.npz), or else
        a mirror (--mirror or $MNIST_MIRROR: http://, https://, file://), then public mirrors.
Writes: data/mnist.npz   x_train, y_train, x_val, y_val, x_test, y_test (uint8), and pictures
                         with no digit for training and validation (x_not_a_digit_train,
                         x_not_a_digit_val: not_a_digit.py draws them)
        data/mnist.json  source, checksums, counts per split and class, pixel statistics
        data/raw/        verified downloads, so that --force does not download again

Every idx file is checked by the SHA-256 of its decompressed bytes, the same on every mirror.
Only regular files are read; no file is read, received or decompressed past
downloads.MAX_FILE_BYTES, and a download that crawls or takes too long (downloads.py) gives
way to the next source. The validation split is the last --val-size images of the training file, whose writers the
rest of the training file mostly does not share (see split_validation). A rerun with the
same settings does nothing; --force rebuilds.

    python preprocess.py
    python preprocess.py --source ../shared/mnist
    MNIST_MIRROR=file:///path/to/mnist/ python preprocess.py --force
"""

import venv_check  # noqa: F401  Imported first: says how to run the script outside .venv.
import argparse
import functools
import hashlib
import json
import os
import sys
import urllib.parse
import zipfile
from pathlib import Path

import numpy as np

import common
import downloads
import safe_files
import safe_outputs

# The decompressed files' SHA-256, as in ../shared/mnist/SHA256SUMS-decompressed.
# Tests replace this dict to exercise the check on tiny fake files.
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
PUBLIC_MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]
# Not keras.utils.get_file: it imports TensorFlow (7 s), cannot time out a stalled download
# and cannot check the decompressed content. The hash is Keras's, from
# keras/src/datasets/mnist.py.
KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
IDX_MAGIC = {"images": 2051, "labels": 2049}
# What a bad source raises: ValueError for wrong content (safe_files.Refused for a file that
# is not a regular one, or too large), OSError for files and networks, and from np.load
# KeyError (an array is missing) or BadZipFile.
SOURCE_ERRORS = (OSError, ValueError, KeyError, zipfile.BadZipFile)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--source", type=Path, help="idx folder or mnist.npz; the only source")
    where.add_argument("--mirror", default=os.environ.get("MNIST_MIRROR"),
                       help="URL of a folder of the four *-ubyte.gz files; $MNIST_MIRROR if set")
    parser.add_argument("--out", type=Path, default=common.DATA_PATH,
                        help="dataset to write; its .json goes beside it")
    parser.add_argument("--val-size", type=int, default=5000,
                        help="images at the end of the training file held out for validation")
    parser.add_argument("--timeout", type=float, default=30,
                        help=f"seconds a download may stall, or receive under {downloads.MIN_RATE:,} bytes/s")
    parser.add_argument("--not-a-digit", type=int, default=12000,
                        help="pictures with no digit to draw for training (and a sixth as many "
                             "for validation; not_a_digit.py)")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    common.add_debug_flag(parser)
    args = parser.parse_args(argv)
    # Checked before any download: a bad value must not cost a 12 MB fetch to find out.
    if args.out.suffix.lower() != ".npz" or args.out.is_dir():
        parser.error(f"--out must name a .npz file, not {args.out}")
    if args.val_size < 1:
        parser.error("--val-size must be at least 1")
    if args.not_a_digit < 0:
        parser.error("--not-a-digit must be at least 0")
    if not 0 < args.timeout < float("inf"):
        parser.error("--timeout must be a positive number of seconds")
    return args


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def parse_idx(data, name, kind):
    """Returns the uint8 array in an idx file: images (N, 28, 28) or labels (N,)."""
    header_size = 16 if kind == "images" else 8
    if len(data) < header_size:
        raise ValueError(f"{name}: {len(data)} bytes, too short for an idx header")
    header = np.frombuffer(data, ">u4", count=header_size // 4)
    if header[0] != IDX_MAGIC[kind]:
        raise ValueError(f"{name}: magic number {header[0]}, expected {IDX_MAGIC[kind]} ({kind})")
    shape = tuple(int(size) for size in header[1:])
    if kind == "images" and shape[1:] != (common.IMAGE_SIZE, common.IMAGE_SIZE):
        raise ValueError(f"{name}: images of {shape[1]}x{shape[2]} pixels, expected 28x28")
    expected_size = header_size + int(np.prod(shape))
    if len(data) != expected_size:
        raise ValueError(f"{name}: {len(data)} bytes, but its header says {expected_size}")
    return np.frombuffer(data, np.uint8, offset=header_size).reshape(shape)


def verified_idx(path, name):
    """Returns the decompressed bytes of an idx file (.gz or raw) if its SHA-256 is right.
    path must be a regular file; neither it nor what it decompresses to may pass
    downloads.MAX_FILE_BYTES (a gzip bomb stops there, as wrong content)."""
    with safe_files.open_input(path) as file:
        gzipped = file.read(2) == b"\x1f\x8b"  # Mirrors serve .gz, folders hold either.
        file.seek(0)
        chunks = safe_files.file_chunks(file, downloads.MAX_FILE_BYTES, name)
        data = (safe_files.gunzip(chunks, downloads.MAX_FILE_BYTES, name) if gzipped
                else b"".join(chunks))
    if sha256(data) != SHA256[name]:
        raise ValueError(f"{name}: wrong content (SHA-256 {sha256(data)[:12]}..., "
                         f"expected {SHA256[name][:12]}...)")
    return data


def from_idx(files):
    """Parses the four verified idx files; returns the arrays and their checksums."""
    arrays = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
        arrays[f"x_{split}"] = parse_idx(files[images], images, "images")
        arrays[f"y_{split}"] = parse_idx(files[labels], labels, "labels")
    return arrays, {name: SHA256[name] for name in files}  # Each one verified already.


def from_keras_npz(path):
    """Reads Keras's own mnist.npz, recognised by the SHA-256 that Keras publishes (so that
    what np.load then reads is that file, 11 MB)."""
    with safe_files.open_input(path) as file:
        digest = hashlib.sha256()
        for chunk in safe_files.file_chunks(file, downloads.MAX_FILE_BYTES, Path(path).name):
            digest.update(chunk)
        if digest.hexdigest() != KERAS_SHA256:
            raise ValueError(f"{Path(path).name}: SHA-256 {digest.hexdigest()[:12]}... is not "
                             "Keras's mnist.npz")
        file.seek(0)
        with np.load(file, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    return arrays, {"mnist.npz": digest.hexdigest()}


def load_local(source):
    if safe_files.check_input(source, folder=True) == "file":
        if source.suffix.lower() == ".npz":
            return from_keras_npz(source)
        raise ValueError(f"{source} is neither a folder nor an .npz file")
    files = {}
    for name in SHA256:
        # The .gz when there is one, whatever it is: a FIFO there is refused as a FIFO.
        path = source / f"{name}.gz" if os.path.lexists(source / f"{name}.gz") else source / name
        if not os.path.lexists(path):
            raise FileNotFoundError(f"neither {name}.gz nor {name} is in {source}")
        files[name] = verified_idx(path, name)
    return from_idx(files)


def fetch(url, cache_path, timeout, verify):
    """Uses the verified copy in the cache if there is one, else downloads url."""
    if cache_path.is_file():
        try:
            result = verify(cache_path)
            print(f"  {cache_path.name}: the verified copy in {cache_path.parent}")
            return result
        except SOURCE_ERRORS as error:
            print(f"  {cache_path}: {error}; downloading it again", file=sys.stderr)
            cache_path.unlink()
    return downloads.download(url, cache_path, timeout, verify)


def load_mirror(base_url, cache, timeout):
    if urllib.parse.urlsplit(base_url).scheme not in ("http", "https", "file"):
        raise ValueError("not an http://, https:// or file:// URL")
    files = {}
    for name in SHA256:
        url = f"{base_url.rstrip('/')}/{name}.gz"
        verify = functools.partial(verified_idx, name=name)
        files[name] = fetch(url, cache / f"{name}.gz", timeout, verify)
    return from_idx(files)


def check_arrays(arrays):
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if len(images) != len(labels):
            raise ValueError(f"{split}: {len(images)} images but {len(labels)} labels")
        common.check_images(split, images, labels)


def split_validation(count, val_size):
    """Returns (train, val) slices: the last val_size images of the training file are the
    validation split.

    The test digits come from other writers than the training digits, so validation should
    too. MNIST publishes no writer IDs, but its training file keeps each writer's digits
    together: style measures (stroke thickness, slant) of images two places apart correlate
    at about 0.3, fading to nothing by about 250 places (measured; see the README). A random
    split would put every writer on both sides; a block at the end shares at most the
    writers that straddle its one boundary.
    """
    if not 0 < val_size < count:
        raise common.UserError(f"--val-size must be between 1 and {count - 1}, got {val_size}")
    return slice(0, count - val_size), slice(count - val_size, count)


def is_up_to_date(out, info_path, settings):
    try:
        info = json.loads(safe_files.read_bytes(info_path, 1_000_000))
        same_settings = isinstance(info, dict) and all(
            info.get(key) == value for key, value in settings.items())
        return same_settings and info.get("npz_sha256") == safe_files.file_sha256(
            out, common.MAX_DATASET_BYTES, Path(out).name)
    except (OSError, ValueError):
        return False


def main(argv=None):
    args = parse_args(argv)
    # Even when the dataset is already built; a FIFO or a device is refused before it is read.
    if args.source and safe_files.kind(args.source) not in ("file", "folder"):
        raise common.UserError(f"--source {args.source} {safe_files.kind(args.source)}")
    info_path = args.out.with_suffix(".json")
    # Found now, not after the downloads: a dataset must not replace its source, nor a file
    # of another kind (a model's record beside --out models/x.npz, say).
    # Where the dataset's record stands, a damaged dataset beside it is replaced too.
    npz_kind = "any" if safe_outputs.is_output(info_path, "record:dataset") else "dataset npz"
    common.check_outputs({args.out: npz_kind, info_path: "record:dataset"}, inputs=[args.source])
    settings = {"val_size": args.val_size, "validation": "end of the training file",
                "not_a_digit": args.not_a_digit}
    if not args.force and is_up_to_date(args.out, info_path, settings):
        print(f"{args.out} is already built with val_size={args.val_size}, "
              f"not_a_digit={args.not_a_digit}: nothing to do (--force rebuilds it)")
        return common.EXIT_OK

    cache = args.out.parent / "raw"
    for folder in (args.out.parent, cache):  # Temporary files of a killed preprocess.py.
        safe_outputs.remove_leftovers(folder)
    if args.source:
        sources = {f"--source {args.source}": lambda: load_local(args.source)}
    else:
        sources = {}
        if all((cache / f"{name}.gz").is_file() for name in SHA256):
            sources[f"{cache}, verified downloads of an earlier run"] = lambda: load_local(cache)
        for url in ([args.mirror] if args.mirror else []) + PUBLIC_MIRRORS:
            sources[url] = functools.partial(load_mirror, url, cache, args.timeout)
        sources[KERAS_URL] = functools.partial(
            fetch, KERAS_URL, cache / "mnist.npz", args.timeout, from_keras_npz
        )
    failures = []
    for source, load in sources.items():
        print(f"Reading MNIST from {source}")
        try:
            arrays, checksums = load()
            check_arrays(arrays)
            break
        except SOURCE_ERRORS as error:
            failures.append(f"{source}: {error}")
            print(f"  failed: {source}: {error}", file=sys.stderr)
    else:
        # Offline, the way out is a local copy: say how to point at one.
        hint = "" if args.source else (
            "\nWith no internet: --source FOLDER (the four idx files) or --mirror "
            "file:///FOLDER/ (make run MNIST_MIRROR=file:///FOLDER/)")
        raise common.UserError("no source gave a verified MNIST:\n  " + "\n  ".join(failures)
                               + hint)

    train_part, val_part = split_validation(len(arrays["y_train"]), args.val_size)
    x_train, y_train = arrays["x_train"], arrays["y_train"]
    dataset = {"x_train": x_train[train_part], "y_train": y_train[train_part],
               "x_val": x_train[val_part], "y_val": y_train[val_part],
               "x_test": arrays["x_test"], "y_test": arrays["y_test"]}
    if args.not_a_digit:
        print(f"Drawing {args.not_a_digit + args.not_a_digit // 6:,} pictures with no digit "
              "(not_a_digit.py)")
        import not_a_digit  # Draws with OpenCV, Pillow and matplotlib's fonts: only when needed.

        # Seeds of their own, so that the same count always draws the same pictures.
        dataset["x_not_a_digit_train"] = not_a_digit.draw(args.not_a_digit, seed=0)
        dataset["x_not_a_digit_val"] = not_a_digit.draw(max(1, args.not_a_digit // 6), seed=1)
    labels = {split: dataset[f"y_{split}"] for split in ("train", "val", "test")}
    # From the mean square: x_train.std() would make a 350 MB float copy of the pixels.
    pixel_mean = dataset["x_train"].mean(dtype=np.float64)
    pixel_std = np.sqrt(np.square(dataset["x_train"], dtype=np.uint16).mean(dtype=np.float64)
                        - pixel_mean**2)
    info = {
        "kind": "dataset",
        "source": source,
        "sha256": checksums,  # Of the decompressed idx files (or of Keras's mnist.npz).
        **settings,
        "counts": {split: len(y) for split, y in labels.items()},
        "class_counts": {
            split: np.bincount(y, minlength=common.NUM_CLASSES).tolist()
            for split, y in labels.items()
        },
        "train_pixel_mean": round(float(pixel_mean), 4),  # On the 0..255 scale.
        "train_pixel_std": round(float(pixel_std), 4),
    }

    def write_dataset(tmp):
        with open(tmp, "wb") as file:  # Given a name, np.savez would add ".npz" to it.
            np.savez(file, **dataset)
        info["npz_sha256"] = safe_files.file_sha256(tmp, common.MAX_DATASET_BYTES, Path(tmp).name)

    # The two files as one set (the record holds the dataset's checksum, so it is written
    # second): a failure leaves the earlier dataset and record together.
    common.write_together({
        args.out: (npz_kind, write_dataset),
        info_path: ("record:dataset", common.json_writer(info)),  # Dumped when written.
    }, inputs=[args.source])
    sizes = ", ".join(f"{len(y)} {split}" for split, y in labels.items())
    if args.not_a_digit:
        sizes += f"; {args.not_a_digit} and {args.not_a_digit // 6} pictures with no digit"
    print(f"Wrote {args.out} ({sizes}) and {info_path}")
    return common.EXIT_OK


if __name__ == "__main__":
    sys.exit(common.run_cli(main))
