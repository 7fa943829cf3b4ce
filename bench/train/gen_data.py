#!/usr/bin/env python3
"""Writes the fixed inputs every training benchmark reads, so elegy, libtorch and JAX start from
the same weights and see the same batches:

    DIR/images.npy   uint8 [N, 28, 28]     the first N Fashion-MNIST training images (or
                                           seeded random pixels when the dataset is absent)
    DIR/labels.npy   int64 [N]             their labels
    DIR/mlp/<param>.npy, DIR/cnn/<param>.npy   float32 initial weights in elegy's layout

Parameter files are named after elegy's parameter paths with '/' -> '.' ("linear_1.w.npy"):
Linear w is [in, out], Conv2D w is [kh, kw, c_in, c_out] (HWIO). Weights and biases are drawn
uniformly from +-1/sqrt(fan_in) (PyTorch's default init) with a fixed seed. The libtorch program
transposes/permutes them into its own layouts when it loads them.

    python3 bench/train/gen_data.py DIR [--images N] [--fashion-mnist FMNIST_DIR]

N is 5120 by default: 10 batches of the CPU run's largest batch (512); the GPU run
(bench/gpu/train.py) asks for 10240, 10 batches of 1024, whose first 5120 images are the same.
FMNIST_DIR holds train-{images-idx3,labels-idx1}-ubyte.gz (default: where Debian's
dataset-fashion-mnist puts them). The weights do not depend on N when the dataset is found.
Needs only numpy.
"""
import argparse
import gzip
from pathlib import Path

import numpy as np

NUM_IMAGES = 5120  # 10 batches of the CPU run's largest batch size (512)
FMNIST = Path("/usr/share/datasets/fashion-mnist")
FMNIST_TRAIN_SIZE = 60000
SEED = 20261124

MLP = {  # path: (fan_in, shape of w)
    "linear": (784, (784, 512)),
    "linear_1": (512, (512, 512)),
    "linear_2": (512, (512, 10)),
}
CNN = {
    "conv2_d": (9 * 1, (3, 3, 1, 32)),
    "conv2_d_1": (9 * 32, (3, 3, 32, 64)),
    "linear": (7 * 7 * 64, (7 * 7 * 64, 128)),
    "linear_1": (128, (128, 10)),
}


def read_idx(path, header_bytes, count, item_shape):
    with gzip.open(path, "rb") as f:
        data = f.read(header_bytes + count * int(np.prod(item_shape, dtype=np.int64)))
    return np.frombuffer(data[header_bytes:], dtype=np.uint8).reshape((count,) + item_shape)


def images_and_labels(rng, count, fmnist):
    images_gz = fmnist / "train-images-idx3-ubyte.gz"
    labels_gz = fmnist / "train-labels-idx1-ubyte.gz"
    if images_gz.exists() and labels_gz.exists():
        images = read_idx(images_gz, 16, count, (28, 28))
        labels = read_idx(labels_gz, 8, count, ()).astype(np.int64)
        return images, labels, f"Fashion-MNIST train[0:{count}]"
    images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=count).astype(np.int64)
    return images, labels, f"seeded random pixels (Fashion-MNIST not found in {fmnist})"


def write_params(out, spec, rng):
    out.mkdir(parents=True, exist_ok=True)
    for path, (fan_in, w_shape) in spec.items():
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, size=w_shape).astype(np.float32)
        b = rng.uniform(-bound, bound, size=(w_shape[-1],)).astype(np.float32)
        np.save(out / f"{path}.w.npy", w)
        np.save(out / f"{path}.b.npy", b)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path)
    ap.add_argument("--images", type=int, default=NUM_IMAGES)
    ap.add_argument("--fashion-mnist", type=Path, default=FMNIST)
    args = ap.parse_args()
    if not 0 < args.images <= FMNIST_TRAIN_SIZE:
        ap.error(f"--images must be in [1, {FMNIST_TRAIN_SIZE}], not {args.images}")
    out = args.dir
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    images, labels, source = images_and_labels(rng, args.images, args.fashion_mnist)
    np.save(out / "images.npy", np.ascontiguousarray(images))
    np.save(out / "labels.npy", np.ascontiguousarray(labels))
    write_params(out / "mlp", MLP, rng)
    write_params(out / "cnn", CNN, rng)
    print(f"wrote {out}: {args.images} images ({source}), MLP and CNN initial weights")


if __name__ == "__main__":
    main()
