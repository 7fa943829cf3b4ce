#!/usr/bin/env python3
"""PyTorch eager training steps on a GPU, the peer of `bench_train_elegy --device cuda`: the same
networks, initial weights and batches (read from the directory gen_data.py wrote), written the
way a PyTorch user writes them (nn.Module, F.cross_entropy, torch.optim.Adam(lr=1e-3),
backward / step / zero_grad). Forward only: the forward pass under torch.no_grad().

    python3 torch_gpu_train.py --data DIR [--device cuda|cpu] [--losses FILE] [--filter SUBSTR]
                               [--threads N] [--min-seconds S] [--min-steps N] [--warmup N]

Mirrors bench_train_torch (torch_train.cpp), the libtorch CPU peer: the weight files are in
elegy's layouts and are converted once at load (Linear w [in, out] -> weight [out, in]; Conv2D w
HWIO -> weight OIHW; the CNN's first Linear has its input rows permuted from elegy's NHWC flatten
order (h, w, c) to NCHW's (c, h, w)), and the input [N, 28, 28] is [N, 1, 28, 28] (NCHW), the
same bytes as elegy's [N, 28, 28, 1] with one channel.

TF32 is off (matmuls and cuDNN convolutions in float32, as elegy computes them), so the first
losses agree with elegy's to float32 rounding. Each timed step ends with
torch.cuda.synchronize(), so it includes its kernels; median over at least --min-steps steps
after --warmup steps. Prints `torch_eager,case,threads,median_us` lines on stdout like the C++
benchmarks (cases <workload>_train and <workload>_infer for mlp_b32, mlp_b128, mlp_b512,
mlp_b1024, cnn_b64) and appends the first 10 losses to --losses as
`torch_eager,workload,step,loss` lines. --device cpu runs the same on the CPU (to test the
script on a machine without a GPU). Needs torch and numpy.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

IMPL = "torch_eager"
NUM_BATCHES = 10  # batches cycled through; also the number of losses checked
WORKLOADS = [("mlp", 32), ("mlp", 128), ("mlp", 512), ("mlp", 1024), ("cnn", 64)]
LAYERS = {"mlp": ["linear", "linear_1", "linear_2"],  # elegy's parameter paths, in module order
          "cnn": ["conv2_d", "conv2_d_1", "linear", "linear_1"]}


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.l0, self.l1, self.l2 = nn.Linear(784, 512), nn.Linear(512, 512), nn.Linear(512, 10)

    def forward(self, x):
        return self.l2(torch.relu(self.l1(torch.relu(self.l0(x)))))

    def layers(self):
        return [self.l0, self.l1, self.l2]


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c0 = nn.Conv2d(1, 32, 3, padding=1)
        self.c1 = nn.Conv2d(32, 64, 3, padding=1)
        self.l0, self.l1 = nn.Linear(7 * 7 * 64, 128), nn.Linear(128, 10)

    def forward(self, x):
        h = F.max_pool2d(torch.relu(self.c0(x)), 2)
        h = F.max_pool2d(torch.relu(self.c1(h)), 2)
        return self.l1(torch.relu(self.l0(h.flatten(1))))

    def layers(self):
        return [self.c0, self.c1, self.l0, self.l1]


def torch_layout(net, layer, w):
    """An elegy weight array in the layout of the matching torch module's weight."""
    if w.ndim == 4:
        return w.transpose(3, 2, 0, 1)  # HWIO -> OIHW
    if net == "cnn" and layer == "linear":
        # Rows in elegy's (h, w, c) flatten order -> columns in NCHW's (c, h, w) order.
        return w.reshape(7 * 7, 64, 128).transpose(2, 1, 0).reshape(128, 7 * 7 * 64)
    return w.T  # [in, out] -> [out, in]


def load_params(module, data, net):
    with torch.no_grad():
        for layer, torch_layer in zip(LAYERS[net], module.layers()):
            w = torch_layout(net, layer, np.load(data / net / f"{layer}.w.npy"))
            b = np.load(data / net / f"{layer}.b.npy")
            want_w, want_b = tuple(torch_layer.weight.shape), tuple(torch_layer.bias.shape)
            if w.shape != want_w or b.shape != want_b:
                raise SystemExit(f"{net}/{layer}: file weight {w.shape}, bias {b.shape} vs module "
                                 f"{want_w}, {want_b}")
            torch_layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
            torch_layer.bias.copy_(torch.from_numpy(b))


def load_batches(data, net, batch, device):
    """Batch i: images [i*batch, (i+1)*batch) as float32 pixels / 255, labels as int64."""
    images, labels = np.load(data / "images.npy"), np.load(data / "labels.npy")
    if len(labels) < batch * NUM_BATCHES:
        raise SystemExit(f"{data}/images.npy holds {len(labels)} images, batch {batch} needs "
                         f"{batch * NUM_BATCHES}: rerun bench/train/gen_data.py with --images")
    shape = (batch, 784) if net == "mlp" else (batch, 1, 28, 28)
    out = []
    for i in range(NUM_BATCHES):
        x = images[i * batch:(i + 1) * batch].astype(np.float32) / np.float32(255.0)
        y = labels[i * batch:(i + 1) * batch].astype(np.int64)
        out.append((torch.from_numpy(x.reshape(shape)).to(device),
                    torch.from_numpy(y).to(device)))
    return out


def median_step_us(args, step, sync):
    """Warm-up steps, then single steps (each ending with sync()) until both --min-steps and
    --min-seconds are reached (at most 2000 steps or 30 s); the median µs of one step."""
    index = 0
    for _ in range(args.warmup):
        step(index)
        index += 1
    sync()
    samples, start = [], time.perf_counter()
    while True:
        t0 = time.perf_counter()
        step(index)
        sync()
        t1 = time.perf_counter()
        index += 1
        samples.append((t1 - t0) * 1e6)
        elapsed = t1 - start
        enough = len(samples) >= args.min_steps and elapsed >= args.min_seconds
        if enough or len(samples) >= 2000 or elapsed >= 30.0:
            return float(np.median(samples))


def run(args, net, batch, device, sync):
    name = f"{net}_b{batch}"
    data = Path(args.data)
    torch.manual_seed(0)  # the modules' own init is overwritten by the weight files
    module = Mlp() if net == "mlp" else Cnn()
    load_params(module, data, net)
    module.to(device)
    batches = load_batches(data, net, batch, device)
    adam = torch.optim.Adam(module.parameters(), lr=1e-3)

    def train_step(i):
        x, y = batches[i % NUM_BATCHES]
        loss = F.cross_entropy(module(x), y)
        loss.backward()
        adam.step()
        adam.zero_grad()
        return loss

    losses = [train_step(i).item() for i in range(NUM_BATCHES)]
    print(f"{IMPL} {name} first losses: " + ", ".join(f"{v:.6f}" for v in losses),
          file=sys.stderr)
    if args.losses:
        with open(args.losses, "a") as f:
            for k, v in enumerate(losses):
                f.write(f"{IMPL},{name},{k},{v:.9g}\n")

    rows = [(f"{name}_train", median_step_us(args, train_step, sync))]

    def infer_step(i):
        with torch.no_grad():
            module(batches[i % NUM_BATCHES][0])

    rows.append((f"{name}_infer", median_step_us(args, infer_step, sync)))
    for case, us in rows:
        print(f"{IMPL},{case},{args.threads},{us:.1f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch.set_num_threads on --device cpu; a label on cuda")
    ap.add_argument("--losses", default="")
    ap.add_argument("--filter", default="", help="only workloads whose name contains it")
    ap.add_argument("--min-seconds", type=float, default=1.0)
    ap.add_argument("--min-steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    args = ap.parse_args()
    if args.threads < 1 or args.min_steps < 1 or args.warmup < 0:
        ap.error("--threads and --min-steps must be >= 1, --warmup >= 0")

    if args.device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("torch_gpu_train.py: --device cuda, but torch.cuda.is_available() "
                             "is False (use --device cpu to run on the CPU)")
        # float32 GEMMs and convolutions as elegy computes them (cuDNN allows TF32 by default).
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        sync = torch.cuda.synchronize
    else:
        torch.set_num_threads(args.threads)
        sync = lambda: None  # CPU ops return when their work is done
    device = torch.device(args.device)
    for net, batch in WORKLOADS:
        if args.filter in f"{net}_b{batch}":
            run(args, net, batch, device, sync)


if __name__ == "__main__":
    main()
