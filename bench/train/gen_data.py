#!/usr/bin/env python3
"""Writes the fixed inputs every training benchmark reads, so elegy, libtorch and JAX start from
the same weights and see the same batches:

    DIR/images.npy   uint8 [5120, 28, 28]  the first 5120 Fashion-MNIST training images (or
                                           seeded random pixels when the dataset is absent)
    DIR/labels.npy   int64 [5120]          their labels
    DIR/mlp/<param>.npy, DIR/cnn/<param>.npy   float32 initial weights in elegy's layout

Parameter files are named after elegy's parameter paths with '/' -> '.' ("linear_1.w.npy"):
Linear w is [in, out], Conv2D w is [kh, kw, c_in, c_out] (HWIO). Weights and biases are drawn
uniformly from +-1/sqrt(fan_in) (PyTorch's default init) with a fixed seed. The libtorch program
transposes/permutes them into its own layouts when it loads them.

    python3 bench/train/gen_data.py DIR
Needs only numpy.
"""
import gzip
import sys
from pathlib import Path

import numpy as np

NUM_IMAGES = 5120  # 10 batches of the largest batch size (512)
FMNIST = Path("/usr/share/datasets/fashion-mnist")
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


def images_and_labels(rng):
    images_gz, labels_gz = FMNIST / "train-images-idx3-ubyte.gz", FMNIST / "train-labels-idx1-ubyte.gz"
    if images_gz.exists() and labels_gz.exists():
        images = read_idx(images_gz, 16, NUM_IMAGES, (28, 28))
        labels = read_idx(labels_gz, 8, NUM_IMAGES, ()).astype(np.int64)
        return images, labels, "Fashion-MNIST train[0:5120]"
    images = rng.integers(0, 256, size=(NUM_IMAGES, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=NUM_IMAGES).astype(np.int64)
    return images, labels, "seeded random pixels (Fashion-MNIST not found)"


def write_params(out, spec, rng):
    out.mkdir(parents=True, exist_ok=True)
    for path, (fan_in, w_shape) in spec.items():
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, size=w_shape).astype(np.float32)
        b = rng.uniform(-bound, bound, size=(w_shape[-1],)).astype(np.float32)
        np.save(out / f"{path}.w.npy", w)
        np.save(out / f"{path}.b.npy", b)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    images, labels, source = images_and_labels(rng)
    np.save(out / "images.npy", np.ascontiguousarray(images))
    np.save(out / "labels.npy", np.ascontiguousarray(labels))
    write_params(out / "mlp", MLP, rng)
    write_params(out / "cnn", CNN, rng)
    print(f"wrote {out}: {NUM_IMAGES} images ({source}), MLP and CNN initial weights")


if __name__ == "__main__":
    main()
