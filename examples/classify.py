#!/usr/bin/python3
"""Classifies the Fashion-MNIST test set with the weights of a downhill run file.

usage: examples/classify.py RUN.h5 [--images FILE --labels FILE] [--show N]

A short example of reading a run file without downhill, with h5py and numpy only: it
loads /model/W1 .. /model/WL and /model/b1 .. /model/bL (W_l is (n_l, n_{l-1}) row-major,
docs/FORMATS.md), reads the test images and labels (IDX files, plain or .gz), runs the
network forward and prints the accuracy, which is the accuracy `downhill eval RUN.h5`
prints, and the outputs of the first N examples. The network's kind comes from the run
file's root attributes `activation` and `output` when present, else from its `config`
attribute (the run's INI text, [model] activation and output); absent means sigmoid.
"""
import argparse
import configparser
import gzip

import h5py
import numpy as np

FASHION = "/usr/share/datasets/fashion-mnist"


def text(value):
    """An HDF5 string attribute as str (h5py gives str or bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def network_kind(f):
    """(hidden activation, output) of the run file f: 'sigmoid' | 'tanh' | 'relu' and
    'sigmoid' | 'softmax'."""
    model = {}
    if "config" in f.attrs:
        ini = configparser.ConfigParser(interpolation=None)
        ini.read_string(text(f.attrs["config"]))
        if ini.has_section("model"):
            model = ini["model"]
    kind = []
    for key in ("activation", "output"):
        value = f.attrs[key] if key in f.attrs else model.get(key, "sigmoid")
        kind.append(text(value).strip() or "sigmoid")
    return tuple(kind)


def load_model(path):
    """The weights [(W1, b1), ..., (WL, bL)] in float64 and the network's kind."""
    with h5py.File(path, "r") as f:
        layers = list(f.attrs["layers"])
        weights = [(f[f"model/W{l}"][:].astype(np.float64),
                    f[f"model/b{l}"][:].astype(np.float64)) for l in range(1, len(layers))]
        return weights, network_kind(f)


def read_idx(path, magic):
    """An IDX file (plain or gzip) as a uint8 array: images (count, rows * cols) for magic
    0x803, labels (count) for 0x801."""
    with open(path, "rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
        data = f.read()
    dims = data[3]
    header = np.frombuffer(data, dtype=">u4", count=1 + dims)
    if header[0] != magic:
        raise SystemExit(f"classify: {path}: not an IDX file of magic {magic:#x}")
    count, per_item = int(header[1]), int(np.prod(header[2:], dtype=np.int64))
    values = np.frombuffer(data, dtype=np.uint8, offset=4 * (1 + dims))
    return values.reshape(count, per_item) if dims > 1 else values[:count]


ACTIVATIONS = {
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
}


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))  # shifted: no overflow
    return e / e.sum(axis=1, keepdims=True)


def forward(weights, kind, x):
    """The network's outputs (examples, classes) for inputs x (examples, pixels) in [0, 1]."""
    hidden, output = ACTIVATIONS[kind[0]], softmax if kind[1] == "softmax" else ACTIVATIONS["sigmoid"]
    a = x
    for l, (W, b) in enumerate(weights, 1):
        z = a @ W.T + b
        a = output(z) if l == len(weights) else hidden(z)
    return a


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a downhill run file (.h5)")
    parser.add_argument("--images", default=f"{FASHION}/t10k-images-idx3-ubyte.gz")
    parser.add_argument("--labels", default=f"{FASHION}/t10k-labels-idx1-ubyte.gz")
    parser.add_argument("--show", type=int, default=3, help="print the outputs of N examples")
    args = parser.parse_args()
    weights, kind = load_model(args.run)
    images = read_idx(args.images, 0x803)
    labels = read_idx(args.labels, 0x801)
    outputs = forward(weights, kind, images / 255.0)  # downhill scales pixels the same way
    predicted = outputs.argmax(axis=1)  # the first largest output, as downhill
    correct = int((predicted == labels).sum())
    print(f"network: {' '.join(str(W.shape[1]) for W, _ in weights)} {weights[-1][0].shape[0]}, "
          f"activation {kind[0]}, output {kind[1]}")
    np.set_printoptions(precision=4, suppress=True)
    for i in range(min(args.show, len(labels))):
        print(f"example {i}: label {labels[i]}, predicted {predicted[i]}, outputs {outputs[i]}")
    print(f"accuracy: {correct / len(labels):.4f}")
    print(f"correct: {correct} of {len(labels)}")


if __name__ == "__main__":
    main()
