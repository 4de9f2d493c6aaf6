#!/usr/bin/python3
"""Plots downhill run files: cost and test accuracy per epoch, and where the time went.

usage: scripts/plot_run.py RUN.h5 [RUN2.h5 ...] [--out DIR]

Writes DIR/curves.png (train and test cost, test accuracy per epoch; several runs on
one chart for comparison) and, when the run files hold /timing, DIR/phases.png (seconds
per epoch in each phase, max over ranks, one stacked bar per epoch, per run). Needs
Debian's python3-h5py and python3-matplotlib (scripts/install-deps.sh installs them).
"""
import argparse
import os
import sys

import h5py
import matplotlib

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="downhill run files (.h5)")
    parser.add_argument("--out", default=".", help="directory for the PNG files")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    runs = [(os.path.basename(p).removesuffix(".h5"), read_run(p)) for p in args.runs]
    curves = os.path.join(args.out, "curves.png")
    plot_curves(runs, curves)
    print(f"plot_run: wrote {curves}")
    phases = os.path.join(args.out, "phases.png")
    if plot_phases(runs, phases):
        print(f"plot_run: wrote {phases}")


if __name__ == "__main__":
    main()
