#!/usr/bin/python3
"""Plots downhill run files: cost and test accuracy per epoch, where the time went, and
the confusion matrix of a predictions file.

usage: scripts/plot_run.py [RUN.h5 ...] [--predictions FILE] [--out DIR]

Writes DIR/curves.png (train and test cost, test accuracy per epoch; several runs on
one chart for comparison) and, when the run files hold /timing, DIR/phases.png (seconds
per epoch in each phase, max over ranks, one stacked bar per epoch, per run). With
--predictions FILE (written by `downhill eval RUN.h5 --predictions FILE`, .csv or .h5)
also DIR/confusion.png: the confusion matrix, rows = true label, columns = predicted
class, each cell's count printed and its colour the fraction of its row. Needs Debian's
python3-h5py, python3-numpy and python3-matplotlib (scripts/install-deps.sh installs them).
"""
import argparse
import os
import sys

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_run(path):
    """The history (and timing, if any) of one run file, as plain lists."""
    with h5py.File(path, "r") as f:
        fmt = f.attrs.get("format", b"")
        fmt = fmt.decode() if isinstance(fmt, bytes) else str(fmt)
        if fmt != "downhill-run":
            sys.exit(f"plot_run: {path}: not a downhill run file (format {fmt!r})")
        run = {name: f["history/" + name][:] for name in
               ("epoch", "train_cost", "test_cost", "test_accuracy", "seconds")}
        run["timing"] = {}
        if "timing" in f:
            for phase in f["timing"]:
                if phase.endswith("_max"):
                    run["timing"][phase[:-4]] = f["timing/" + phase][:]
    return run


def plot_curves(runs, out):
    fig, (ax_cost, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (label, run) in enumerate(runs):
        ep, color = run["epoch"], f"C{i}"
        ax_cost.plot(ep, run["train_cost"], "-", color=color, label=f"{label} train")
        ax_cost.plot(ep, run["test_cost"], "--", color=color, label=f"{label} test")
        ax_acc.plot(ep, run["test_accuracy"], "-o", ms=3, color=color, label=label)
    ax_cost.set(xlabel="epoch", ylabel="cost (mean sum of squared errors)", title="Cost")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy", title="Test accuracy", ylim=(0, 1))
    for ax in (ax_cost, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_phases(runs, out):
    timed = [(label, run) for label, run in runs if run["timing"]]
    if not timed:
        return False
    fig, axes = plt.subplots(1, len(timed), figsize=(6 * len(timed), 4), squeeze=False)
    for ax, (label, run) in zip(axes[0], timed):
        bottom = None
        for phase, values in sorted(run["timing"].items()):
            x = range(1, len(values) + 1)
            ax.bar(x, values, bottom=bottom, label=phase)
            bottom = values if bottom is None else bottom + values
        ax.set(xlabel="epoch", ylabel="seconds (max over ranks)", title=f"Time per phase: {label}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def read_predictions(path):
    """(labels, predicted, classes) of a predictions file, CSV or HDF5."""
    if path.lower().endswith(".h5"):
        with h5py.File(path, "r") as f:
            fmt = f.attrs.get("format", b"")
            fmt = fmt.decode() if isinstance(fmt, bytes) else str(fmt)
            if fmt != "downhill-predictions":
                sys.exit(f"plot_run: {path}: not a downhill predictions file (format {fmt!r})")
            return (f["label"][:].astype(np.int64), f["predicted"][:].astype(np.int64),
                    int(f.attrs["classes"]))
    with open(path) as f:
        header = f.readline().strip().split(",")
    if header[:3] != ["index", "label", "predicted"]:
        sys.exit(f"plot_run: {path}: not a downhill predictions CSV (header {header[:3]})")
    cols = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(1, 2), dtype=np.int64, ndmin=2)
    return cols[:, 0], cols[:, 1], len(header) - 3


def plot_confusion(path, out):
    labels, predicted, n = read_predictions(path)
    matrix = np.zeros((n, n), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    rows = matrix.sum(axis=1, keepdims=True)
    share = matrix / np.maximum(rows, 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * n, 0.6 + 0.6 * n))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for t in range(n):
        for p in range(n):
            ax.text(p, t, str(matrix[t, p]), ha="center", va="center", fontsize=7,
                    color="white" if share[t, p] > 0.5 else "black")
    correct = int(np.trace(matrix))
    ax.set(xticks=range(n), yticks=range(n), xlabel="predicted class", ylabel="true label",
           title=f"{os.path.basename(path)}: accuracy {correct / max(len(labels), 1):.4f} "
                 f"({correct} of {len(labels)})")
    fig.colorbar(im, ax=ax, label="fraction of the true label's examples")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", help="downhill run files (.h5)")
    parser.add_argument("--predictions", help="a predictions file of downhill eval (.csv or .h5)")
    parser.add_argument("--out", default=".", help="directory for the PNG files")
    args = parser.parse_args()
    if not args.runs and not args.predictions:
        parser.error("give run files, --predictions FILE, or both")
    os.makedirs(args.out, exist_ok=True)
    if args.predictions:
        confusion = os.path.join(args.out, "confusion.png")
        plot_confusion(args.predictions, confusion)
        print(f"plot_run: wrote {confusion}")
    if not args.runs:
        return
    runs = [(os.path.basename(p).removesuffix(".h5"), read_run(p)) for p in args.runs]
    curves = os.path.join(args.out, "curves.png")
    plot_curves(runs, curves)
    print(f"plot_run: wrote {curves}")
    phases = os.path.join(args.out, "phases.png")
    if plot_phases(runs, phases):
        print(f"plot_run: wrote {phases}")


if __name__ == "__main__":
    main()
