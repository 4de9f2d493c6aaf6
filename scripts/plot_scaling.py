#!/usr/bin/python3
"""Plot a scaling table written by scripts/sweep.sh: speedup and parallel efficiency
against the number of ranks P, strong and weak scaling, one line per thread count, with
the ideal lines.

A table of scripts/scaling-wide.sh (it has a `setting` column) is drawn instead as
measured against predicted parallel efficiency per setting (shared memory, simulated
hosts at each link rate), strong and weak scaling side by side, with the gradient
reduction's overlap on and off.

usage: /usr/bin/python3 scripts/plot_scaling.py SCALING.csv [OUT.png]
       (default OUT: the CSV's name with .png)
"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)


def read_series(path):
    """(mode, threads) -> sorted list of (ranks, speedup, efficiency)."""
    series = defaultdict(list)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            key = (row["mode"], int(row["threads"]))
            series[key].append((int(row["ranks"]), float(row["speedup"]), float(row["efficiency"])))
    return {k: sorted(v) for k, v in series.items()}


def plot_wide(path, out):
    """Measured and predicted efficiency per setting, mode and overlap."""
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if int(r["ranks"]) > 1]
    if not rows:
        print(f"plot_scaling: no multi-rank rows in {path}", file=sys.stderr)
        return 1
    settings = []
    for r in rows:
        name = f"{r['setting']}\nP = {r['ranks']}"
        if name not in settings:
            settings.append(name)
    overlaps = []
    for r in rows:
        if r["overlap"] not in overlaps:
            overlaps.append(r["overlap"])
    modes = [m for m in ("strong", "weak") if any(r["mode"] == m for r in rows)]
    colors = {"on": "tab:blue", "off": "tab:orange", "n/a": "tab:gray"}
    # bars: (label, overlap of the rows, CSV column, colour, hatched = a prediction)
    bars = []
    for ov in overlaps:
        if ov == "n/a":  # the binary had no overlap: its runs beside both predictions
            bars += [("measured (no overlap key)", ov, "efficiency", colors[ov], False),
                     ("model, overlap off", ov, "predicted_off", colors["off"], True),
                     ("model, overlap on", ov, "predicted_on", colors["on"], True)]
        else:
            bars += [(f"measured, overlap {ov}", ov, "efficiency", colors.get(ov), False),
                     (f"model, overlap {ov}", ov, "predicted_efficiency", colors.get(ov), True)]
    fig, axes = plt.subplots(1, len(modes), figsize=(6 * len(modes), 4.8), squeeze=False)
    width = 0.8 / len(bars)
    for ax, mode in zip(axes[0], modes):
        for k, (label, ov, column, color, model) in enumerate(bars):
            ys = []
            for name in settings:
                hit = [r for r in rows if r["mode"] == mode and r["overlap"] == ov
                       and f"{r['setting']}\nP = {r['ranks']}" == name]
                ys.append(float(hit[0][column]) if hit else 0.0)
            xs = [i - 0.4 + (k + 0.5) * width for i in range(len(settings))]
            if model:
                ax.bar(xs, ys, width, facecolor="white", edgecolor=color, hatch="//",
                       label=label)
            else:
                ax.bar(xs, ys, width, color=color, label=label)
            for x, y in zip(xs, ys):
                ax.text(x, y + 0.01, f"{y:.2f}", ha="center", va="bottom", fontsize=6,
                        rotation=90)
        ax.set_xticks(range(len(settings)))
        ax.set_xticklabels(settings, fontsize=8)
        ax.set_ylim(0, 1.12)
        ax.axhline(1.0, color="k", linestyle="--", linewidth=0.8)
        ax.set_ylabel("parallel efficiency (speedup / P)")
        ax.set_title(f"{mode} scaling")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    first = rows[0]
    fig.suptitle("downhill, wide network: measured against the communication model "
                 f"(batch {first['batch'] if first['mode'] == 'strong' else '-'} strong, "
                 f"{first['per_rank_batch']} per rank weak)")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f"plot_scaling: wrote {out}")
    return 0


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    path = argv[1]
    out = argv[2] if len(argv) > 2 else (path[:-4] if path.endswith(".csv") else path) + ".png"
    with open(path, newline="") as f:
        if "setting" in (csv.DictReader(f).fieldnames or []):
            return plot_wide(path, out)
    series = read_series(path)
    if not series:
        print(f"plot_scaling: no rows in {path}", file=sys.stderr)
        return 1

    fig, (ax_s, ax_e) = plt.subplots(1, 2, figsize=(11, 4.5))
    all_p = sorted({p for v in series.values() for p, _, _ in v})
    p0 = all_p[0]
    ax_s.plot(all_p, [p / p0 for p in all_p], "k--", label="ideal")
    ax_e.plot(all_p, [1.0] * len(all_p), "k--", label="ideal")
    for (mode, threads), points in sorted(series.items()):
        ps = [p for p, _, _ in points]
        style = "o-" if mode == "strong" else "s-"
        label = f"{mode}, {threads} thread{'s' if threads > 1 else ''}/rank"
        ax_s.plot(ps, [s for _, s, _ in points], style, label=label)
        ax_e.plot(ps, [e for _, _, e in points], style, label=label)
    for ax, title, ylabel in ((ax_s, "Speedup", "throughput / throughput at smallest P"),
                              (ax_e, "Parallel efficiency", "speedup / (P / smallest P)")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(all_p)
        ax.set_xticklabels([str(p) for p in all_p])
        ax.set_xlabel("ranks P")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend()
    ax_e.set_ylim(bottom=0)
    fig.suptitle("downhill scaling (strong: fixed global batch; weak: fixed batch per rank)")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f"plot_scaling: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
