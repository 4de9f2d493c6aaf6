#!/usr/bin/python3
"""The PyTorch peer of `downhill bench`: examples/s of the training steps of the same
fully-connected network, measured the same way.

The network: the layers of --layers (default 784,512,512,10), sigmoid on every layer (or
--activation), the quadratic cost sum_j (a_j - y_j)^2 averaged over the batch, plain SGD
(no momentum), float32, torch's default initialisation, Fashion-MNIST from the IDX .gz
files (pixels / 255, one-hot labels). A training step is forward, backward and update of
one batch; the batches walk through the first --limit training examples in order, wrapping
around. Like `downhill bench`: 20 warm-up steps, then --reps timed repetitions of about
0.15 s each; it prints the median and the spread, in the layout of bench's `step` lines:

  # peer pytorch 1.13.1, layers 784,512,512,10, sigmoid, quadratic, sgd; ...
  peer pytorch THREADS BATCH float EXAMPLES_PER_S MIN MAX

Threads: --threads (default 1) through torch.set_num_threads (intra-op; inter-op 1).
Needs Debian's python3-torch (scripts/install-deps.sh --bench); exits 77 without torch.

usage: /usr/bin/python3 bench/peer_pytorch.py [--layers L] [--batch B[,B...]]
           [--threads T] [--limit N] [--reps R] [--data DIR]
"""
import argparse
import gzip
import os
import statistics
import sys
import time

import numpy as np

REP_SECONDS = 0.15  # target length of one timed repetition, as downhill bench
WARM_STEPS = 20


def read_idx(path):
    """An IDX file (plain or .gz) as a numpy array of its shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 8:
        sys.exit("peer_pytorch: %s: not an IDX file of unsigned bytes" % path)
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(data_dir, limit, classes):
    images = read_idx(os.path.join(data_dir, "train-images-idx3-ubyte.gz"))[:limit]
    labels = read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz"))[:limit]
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    y = np.zeros((len(labels), classes), dtype=np.float32)
    y[np.arange(len(labels)), labels] = 1.0
    return x, y


def loaded_blas():
    """The BLAS library this process mapped (Debian's torch calls libblas.so.3, which the
    alternatives system points at OpenBLAS once libopenblas0-pthread is installed)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.lower()}
    except OSError:
        return "unknown"
    real = sorted({os.path.basename(os.path.realpath(p)) for p in paths if p.startswith("/")})
    return ", ".join(real) if real else "none mapped"


def build(torch, layers, activation):
    act = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[activation]
    mods = []
    for i in range(1, len(layers)):
        mods.append(torch.nn.Linear(layers[i - 1], layers[i]))
        # hidden layers: --activation; the output: sigmoid, as downhill's default
        mods.append(act() if i < len(layers) - 1 else torch.nn.Sigmoid())
    return torch.nn.Sequential(*mods)


def rate(torch, layers, activation, x, y, batch, reps):
    """median, min, max examples/s of the training steps at this batch."""
    torch.manual_seed(1)
    net = build(torch, layers, activation)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    n = xs.shape[0] - xs.shape[0] % batch
    if n < batch:
        sys.exit("peer_pytorch: --limit %d is smaller than the batch %d" % (xs.shape[0], batch))
    pos = [0]

    def steps(count):
        for _ in range(count):
            i = pos[0]
            pos[0] = (i + batch) % n
            xb, yb = xs[i:i + batch], ys[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss = ((net(xb) - yb) ** 2).sum(dim=1).mean()
            loss.backward()
            opt.step()

    t0 = time.perf_counter()
    steps(WARM_STEPS)
    warm = time.perf_counter() - t0
    count = max(1, int(REP_SECONDS / (warm / WARM_STEPS)))
    rates = []
    for _ in range(reps):
        t0 = time.perf_counter()
        steps(count)
        rates.append(count * batch / (time.perf_counter() - t0))
    return statistics.median(rates), min(rates), max(rates)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", default="784,512,512,10", help="layer sizes, inputs first")
    ap.add_argument("--batch", default="64", help="batch size(s), comma-separated")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    ap.add_argument("--limit", type=int, default=16384, help="training examples used")
    ap.add_argument("--reps", type=int, default=7, help="timed repetitions (default 7)")
    ap.add_argument("--activation", choices=["sigmoid", "tanh", "relu"], default="sigmoid",
                    help="hidden layers' activation (the output is sigmoid)")
    ap.add_argument("--data", default=os.environ.get("FASHION_DIR",
                                                     "/usr/share/datasets/fashion-mnist"),
                    help="folder of the Fashion-MNIST IDX .gz files")
    a = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("peer_pytorch: skip: torch is not importable (scripts/install-deps.sh --bench)",
              file=sys.stderr)
        return 77
    layers = [int(v) for v in a.layers.split(",")]
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    x, y = load(a.data, a.limit, layers[-1])
    if x.shape[1] != layers[0]:
        sys.exit("peer_pytorch: the images have %d pixels, --layers starts with %d" %
                 (x.shape[1], layers[0]))
    blas = loaded_blas()
    print("# peer pytorch %s, layers %s, %s, quadratic, sgd, float32, %d examples, "
          "BLAS %s; %d repetitions: median [min..max]" %
          (torch.__version__, a.layers, a.activation, len(x), blas, a.reps))
    print("# peer name threads batch reduction examples/s min max")
    for b in (int(v) for v in a.batch.split(",")):
        med, lo, hi = rate(torch, layers, a.activation, x, y, b, a.reps)
        print("peer pytorch %d %d float %.0f %.0f %.0f" % (a.threads, b, med, lo, hi))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
