#!/usr/bin/python3
"""Latency-bandwidth (alpha-beta) model of downhill's gradient reduction.

Reads the CSVs of `downhill comm --csv` (one per rank count P; columns
ranks,bytes,kind,median_us,min_us,max_us), fits per P the line T(n) = a + b n, fits the
alpha-beta cost of three allreduce algorithms over all P at once,

  halving   (downhill's own allreduce of the exact int64 sums, src/comm.c: Rabenseifner's
             recursive-halving reduce-scatter and recursive-doubling allgather among the
             largest power of two Q <= P ranks; the P - Q others hand over their sums
             first and get the totals back)
            T = 2 log2(Q) alpha + 2 (Q - 1) / Q n beta  [+ 2 (alpha + n beta) if P > Q]
  binomial  (Open MPI libnbc MPI_Iallreduce with MPI_IN_PLACE: what downhill's float
             path runs; binomial reduce to rank 0, then binomial broadcast)
            T = 2 ceil(log2 P) (alpha + n beta)
  recursive doubling            T = ceil(log2 P) (alpha + n beta)
  ring (reduce-scatter + allgather around a ring)
            T = 2 (P - 1) alpha + 2 (P - 1) / P n beta
  rabenseifner (recursive-halving reduce-scatter + recursive-doubling allgather; libnbc's
             choice for P >= 4, n >= 64 KiB when NOT in place)
            T = 2 log2(P) alpha + 2 (P - 1) / P n beta

(n in bytes; beta in seconds per byte, including the reduction arithmetic), and says
which fits best. Then, with the per-example compute time t (seconds per example on one
rank with its threads), predicts for a global batch B on P ranks

  step(P, B) = B / P * t + T(P, n_msg)
  efficiency = (B / P * t) / step(P, B)
  B_90       = smallest multiple of P with efficiency >= 0.9, i.e. B >= 9 P T(P, n_msg) / t

Fit (--fit split, the default, the textbook way): alpha from the small messages
(n <= --small-bytes, 1 KiB: T ~ A(P) alpha), then beta from the large ones
(n >= --large-bytes, 32 KiB: T - A(P) alpha ~ B(P) n beta), each minimising the relative
error. --fit all instead fits one line through every size at once (relative least
squares); it is printed too. Real links are not one straight line (eager/rendezvous
switches in shared memory; tc tbf lets a full bucket of 64 KiB pass unshaped), so the
split fit keeps the bandwidth term honest for the ~100 KB messages the trainer sends.
Measurements with more ranks than cores (oversubscribed) are distorted: ranks share cores
and wait for each other's time slices; the script says so when it sees them.

Any network (--layers): the step reduces n_params + 5 values, as int64 (8 bytes) in a
node's shared window, in --sum-bytes bytes each between nodes (packed exact sums; the 5
extras travel as int64), or as floats (4 bytes). With --overlap the sums travel in
buckets, each started as soon as the backward pass has completed it (--buckets engine,
what train.overlap sends: the values after W1 with the extras, then W1's two column
blocks; --buckets layers: one per layer, output layer first); the buckets go one after
another over the link and only the last cannot hide behind the remaining backward
compute. With bwd the backward pass's share of the compute (--backward-share, default
from the FLOP counts) and r_k the moment bucket k is complete (FLOP-proportional):

  overlap off:  step = c + T(P, n_1 + ... + n_K)
  overlap on:   e_0 = 0,  e_k = max(r_k bwd, e_{k-1}) + T(P, n_k)  for k = 1 .. K - 1
                step = (c - bwd) + max(bwd, e_{K-1}) + T(P, n_K)
  c = B/P t o,  o = max(1, P T / cores) (ranks x threads beyond the cores share them)
  efficiency = B/P t_ref / step   (t_ref: the one-rank time per example at the batch the
               P = 1 run used: B for strong, B/P for weak scaling; default t)

--step-query P:B prints both, one line each:
  step P B overlap compute_us comm_us exposed_us step_us efficiency

Examples:
  scripts/comm_model.py comm-p2.csv comm-p4.csv --samples-per-s 60000
  scripts/comm_model.py comm-p2.csv --exclude-bytes 104056 --query 2:104056
  scripts/comm_model.py net.csv --layers 784,512,512,10 --sum-bytes 6 \
      --compute-us-per-example 45 --step-query 2:64
  scripts/comm_model.py --alpha-us 6 --link-rate 1gbit --layers 784,512,512,10 \
      --sum-bytes 6 --samples-per-s 22000 --ranks 2,4 --batches 64,256
"""
import argparse
import csv
import math
import os
import sys

import numpy as np

TRAINER_VALUES = 13007  # 13,002 weights and biases of 784-16-16-10 + 5 extras
MSG_BYTES = {"exact": TRAINER_VALUES * 8, "float": TRAINER_VALUES * 4}


def log2c(p):
    return math.ceil(math.log2(p)) if p > 1 else 0


def pow2_below(p):
    """The largest power of two <= p."""
    return 1 << (int(p).bit_length() - 1)


# name -> (latency coefficient A(P), bandwidth coefficient B(P)): T = A alpha + B n beta
ALGORITHMS = {
    "halving": (lambda p: 2 * log2c(pow2_below(p)) + 2 * (p != pow2_below(p)),
                lambda p: 2 * (pow2_below(p) - 1) / pow2_below(p) + 2 * (p != pow2_below(p))),
    "binomial": (lambda p: 2 * log2c(p), lambda p: 2 * log2c(p)),
    "recursive_doubling": (lambda p: log2c(p), lambda p: log2c(p)),
    "ring": (lambda p: 2 * (p - 1), lambda p: 2 * (p - 1) / p),
    "rabenseifner": (lambda p: 2 * log2c(p), lambda p: 2 * (p - 1) / p),
}


def read_csvs(paths, kind, exclude):
    rows = []
    for path in paths:
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                if r["kind"] != kind or int(r["bytes"]) in exclude:
                    continue
                rows.append((int(r["ranks"]), int(r["bytes"]), float(r["median_us"]) * 1e-6))
    if not rows:
        sys.exit("comm_model.py: error: no '%s' rows in %s" % (kind, ", ".join(paths)))
    return np.array(rows, dtype=float)


def fit_relative(a_col, b_col, t):
    """Least squares of (A alpha + B beta - t) / t; alpha, beta >= 0. Returns (alpha, beta, rms)."""
    m = np.column_stack([a_col / t, b_col / t])
    (alpha, beta), *_ = np.linalg.lstsq(m, np.ones_like(t), rcond=None)
    if alpha < 0:
        alpha, beta = 0.0, float(np.sum(b_col / t) / np.sum((b_col / t) ** 2))
    if beta < 0:
        alpha, beta = float(np.sum(a_col / t) / np.sum((a_col / t) ** 2)), 0.0
    rel = (a_col * alpha + b_col * beta - t) / t
    return float(alpha), float(beta), float(np.sqrt(np.mean(rel ** 2)))


def fit_algorithm(data, name, how="split", small=1024, large=32768):
    """alpha, beta and the rms relative error (every size) of T = A alpha + B n beta."""
    coef_a, coef_b = ALGORITHMS[name]
    p, n, t = data[:, 0], data[:, 1], data[:, 2]
    a_col = np.array([coef_a(int(x)) for x in p], dtype=float)
    b_col = np.array([coef_b(int(x)) for x in p]) * n
    if how == "all":
        return fit_relative(a_col, b_col, t)
    lo, hi = n <= small, n >= large
    if not lo.any() or not hi.any():
        sys.exit("comm_model.py: error: --fit split needs sizes <= %d B and >= %d B" %
                 (small, large))
    w = a_col[lo] / t[lo]
    alpha = float(np.sum(w) / np.sum(w * w))  # relative least squares of A alpha = t
    rest = np.maximum(t[hi] - a_col[hi] * alpha, 0.0)
    w = b_col[hi] / t[hi]
    beta = float(np.sum(w * rest / t[hi]) / np.sum(w * w))
    rel = (a_col * alpha + b_col * beta - t) / t
    return alpha, beta, float(np.sqrt(np.mean(rel ** 2)))


def comm_time(name, alpha, beta, p, nbytes):
    coef_a, coef_b = ALGORITHMS[name]
    return coef_a(p) * alpha + coef_b(p) * nbytes * beta


def batch_for(target, p, t_comm, t_example):
    """Smallest multiple of p with efficiency >= target."""
    need = target / (1 - target) * p * t_comm / t_example
    return max(p, int(math.ceil(need / p - 1e-9)) * p)


def parse_rate(text):
    """A tc-style rate (10gbit, 1gbit, 100mbit, 500kbit, bit) in bits per second."""
    units = {"gbit": 1e9, "mbit": 1e6, "kbit": 1e3, "bit": 1.0}
    for unit, factor in units.items():
        if text.endswith(unit) and text[:-len(unit)].replace(".", "", 1).isdigit():
            return float(text[:-len(unit)]) * factor
    raise argparse.ArgumentTypeError("rate %r: use e.g. 10gbit, 1gbit, 100mbit" % text)


class Network:
    """The step sums of a layer list cut into buckets, each with the moment (a share of the
    backward pass) it is complete, in the order the backward pass completes them."""

    EXTRAS = 5  # cost, count, bad values, stop and checkpoint requests

    def __init__(self, layers):
        self.layers = layers
        n = layers
        self.n_params = sum(n[l] * (n[l - 1] + 1) for l in range(1, len(n)))
        # backward FLOPs: weight gradients of every layer, deltas through layers L..2
        self.grads = [2.0 * n[l] * n[l - 1] for l in range(1, len(n))]
        self.deltas = [2.0 * n[l] * n[l - 1] if l >= 2 else 0.0 for l in range(1, len(n))]
        self.total = sum(self.grads) + sum(self.deltas)
        fwd = sum(2.0 * n[l] * n[l - 1] for l in range(1, len(n)))
        self.flop_backward_share = self.total / (self.total + fwd)

    def buckets(self, plan, exact=True):
        """[(values, extras, ready share of the backward pass)], in sending order.
        plan "one": everything after the backward pass (no overlap); "layers": a bucket per
        layer (its weights and biases), output layer first; "engine": what downhill's
        train.overlap sends: the values after W1 (b1 and the upper layers) with the extras
        once the upper layers' gradients and deltas are done, then W1's two column blocks
        (columns [0, split) and [split, n0), split = (n0 / 2 + 8) / 16 * 16) as the first
        layer's gradient forms them, block 0 first (float sums: W1 whole)."""
        n, np_ = self.layers, self.n_params
        if plan == "one":
            return [(np_, self.EXTRAS, 1.0)]
        if plan == "layers":
            out = []
            for l in range(len(n) - 1, 0, -1):  # L .. 1
                done = sum(self.grads[l - 1:]) + sum(self.deltas[l:])
                out.append((n[l] * (n[l - 1] + 1), self.EXTRAS if l == 1 else 0,
                            done / self.total))
            return out
        w1 = n[1] * n[0]
        upper = (self.total - self.grads[0]) / self.total
        split = min((n[0] // 2 + 8) // 16 * 16, n[0])
        cols0 = split / n[0]
        out = [(np_ - w1, self.EXTRAS, upper)]
        if not exact:
            return out + [(w1, 0, 1.0)]
        out.append((n[1] * split, 0, upper + (1 - upper) * cols0))
        if split < n[0]:
            out.append((n[1] * (n[0] - split), 0, 1.0))
        return out


def bucket_bytes(buckets, value_bytes):
    """Bytes of each bucket: values of value_bytes bytes (4: floats, whose extras are floats
    too; else packed exact sums, whose extras travel as int64)."""
    extra = 4 if value_bytes == 4 else 8
    return [v * value_bytes + e * extra for v, e, _ in buckets]


def step_prediction(net, name, alpha, beta, p, batch, t_ex, t_ref, value_bytes, bwd_share,
                    oversub, overlap, plan="engine"):
    """(compute, comm, exposed, step, efficiency) in seconds for P ranks, global batch."""
    compute = batch / p * t_ex * oversub
    if p == 1:
        return compute, 0.0, 0.0, compute, t_ref / t_ex / oversub
    buckets = net.buckets(plan if overlap else "one", value_bytes != 4)
    sizes = bucket_bytes(buckets, value_bytes)
    times = [comm_time(name, alpha, beta, p, nb) for nb in sizes]
    bwd = bwd_share * compute
    end = 0.0  # the link sends the buckets one after another, each once it is complete
    for (_, _, ready), t in zip(buckets[:-1], times[:-1]):
        end = max(ready * bwd, end) + t
    step = (compute - bwd) + max(bwd, end) + times[-1]
    return compute, sum(times), step - compute, step, batch / p * t_ref / step


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv", nargs="*", help="downhill comm --csv files (several P); or give "
                    "the link with --alpha-us and --beta-ns or --link-rate")
    ap.add_argument("--kind", choices=["exact", "float"], default="exact",
                    help="train.reduction to model (default exact: int64 sums)")
    ap.add_argument("--algorithm", choices=list(ALGORITHMS),
                    help="model used for predictions (default: what downhill runs for the "
                         "kind: halving for exact, binomial for float, Open MPI libnbc's "
                         "in-place MPI_Iallreduce)")
    ap.add_argument("--predict-algorithm", choices=list(ALGORITHMS),
                    help="what-if: predict with this algorithm's formula, using the alpha "
                         "and beta fitted with --algorithm (the link's own parameters)")
    ap.add_argument("--train-examples", type=int, default=60000,
                    help="training set size: B_for_90pct above it is unreachable "
                         "(default 60000, Fashion-MNIST)")
    ap.add_argument("--message-bytes", type=int, help="bytes reduced per step "
                    "(default: the trainer's, 13,007 values of the kind)")
    ap.add_argument("--fit", choices=["split", "all"], default="split",
                    help="split: alpha from small, beta from large messages (default); "
                         "all: one relative least-squares line through every size")
    ap.add_argument("--small-bytes", type=int, default=1024,
                    help="split fit: alpha from sizes up to this (default 1024)")
    ap.add_argument("--large-bytes", type=int, default=32768,
                    help="split fit: beta from sizes from this (default 32768)")
    ap.add_argument("--exclude-bytes", type=int, action="append", default=[],
                    help="leave this size out of the fit (e.g. to check a prediction)")
    ap.add_argument("--compute-us-per-example", type=float,
                    help="compute time per example on one rank (microseconds)")
    ap.add_argument("--samples-per-s", type=float,
                    help="one-rank training samples/s (sets --compute-us-per-example)")
    ap.add_argument("--ranks", default="2,4,64,256,1024", help="P to predict")
    ap.add_argument("--batches", default="64,256,1024", help="global batch sizes B")
    ap.add_argument("--label", default="", help="name of the setting, for the output")
    ap.add_argument("--query", action="append", default=[], metavar="P:BYTES",
                    help="print only the predicted allreduce time in us (repeatable)")
    ap.add_argument("--out", help="write the prediction table (.csv, else Markdown)")
    ap.add_argument("--alpha-us", type=float, help="link latency per message (us), instead "
                    "of a fit")
    ap.add_argument("--beta-ns", type=float, help="link time per byte (ns/B), instead of a fit")
    ap.add_argument("--link-rate", type=parse_rate, help="nominal link rate (e.g. 1gbit): "
                    "beta = 8 / rate (sets --beta-ns; --alpha-us defaults to 0)")
    ap.add_argument("--layers", help="the network (e.g. 784,512,512,10): message of "
                    "n_params + 5 values, cut into buckets (--buckets) with overlap")
    ap.add_argument("--sum-bytes", type=float, default=8,
                    help="exact path with --layers: bytes per value on the wire (8: int64, "
                         "the node window; train.sum_bytes between nodes; a fraction for "
                         "an average, as train.sum_bytes = auto sends)")
    ap.add_argument("--buckets", choices=["engine", "layers"], default="engine",
                    help="with overlap: downhill's buckets (the values after W1 with the "
                         "extras, then W1's two column blocks; default) or one per layer")
    ap.add_argument("--backward-share", type=float,
                    help="the backward pass's share of the compute time (default: its FLOP "
                         "share, weight gradients and deltas against the forward pass)")
    ap.add_argument("--overlap", choices=["off", "on", "both"], default="both",
                    help="with --layers: predict without and/or with bucketed overlap")
    ap.add_argument("--cores", type=int, help="cores the ranks share (default: ranks x "
                    "threads never exceed them)")
    ap.add_argument("--threads", type=int, default=1, help="threads per rank (with --cores)")
    ap.add_argument("--reference-us-per-example", type=float,
                    help="one-rank time per example at the batch the P = 1 run of the mode "
                         "used (strong: the global batch), for the efficiency (default: the "
                         "compute time per example)")
    ap.add_argument("--step-query", action="append", default=[], metavar="P:B",
                    help="with --layers: print the step prediction for P ranks, global "
                         "batch B, overlap off and on (repeatable)")
    a = ap.parse_args()
    if a.link_rate:
        a.beta_ns = 8e9 / a.link_rate
        if a.alpha_us is None:
            a.alpha_us = 0.0
    if not a.csv and (a.alpha_us is None or a.beta_ns is None):
        ap.error("give downhill comm CSV files, or --alpha-us with --beta-ns or --link-rate")
    if a.step_query and not a.layers:
        ap.error("--step-query needs --layers")

    if not a.algorithm:
        a.algorithm = "halving" if a.kind == "exact" else "binomial"
    if a.samples_per_s:
        a.compute_us_per_example = 1e6 / a.samples_per_s
    if not a.csv:
        return predict_wide(a, a.alpha_us * 1e-6, a.beta_ns * 1e-9, "given link")
    data = read_csvs(a.csv, a.kind, set(a.exclude_bytes))
    fits = {name: fit_algorithm(data, name, a.fit, a.small_bytes, a.large_bytes)
            for name in ALGORITHMS}
    other = "all" if a.fit == "split" else "split"
    fits_other = {name: fit_algorithm(data, name, other, a.small_bytes, a.large_bytes)
                  for name in ALGORITHMS}
    if a.query:
        alpha, beta, _ = fits[a.algorithm]
        if a.alpha_us is not None and a.beta_ns is not None:
            alpha, beta = a.alpha_us * 1e-6, a.beta_ns * 1e-9
        for q in a.query:
            p, nbytes = (int(x) for x in q.split(":"))
            formula = a.predict_algorithm or a.algorithm
            print("%.3f" % (1e6 * comm_time(formula, alpha, beta, p, nbytes)))
        return

    label = a.label or ", ".join(os.path.basename(x) for x in a.csv)
    print("# alpha-beta model of the %s reduction (%s)" % (a.kind, label))
    cores = os.cpu_count() or 1
    ranks_seen = sorted({int(x) for x in data[:, 0]})
    over = [p for p in ranks_seen if p > cores]
    if over:
        print("# NOTE: P = %s exceed this machine's %d cores: oversubscribed, the times "
              "include waiting for time slices and are distorted (too slow)." %
              (", ".join(map(str, over)), cores))
    print("\nper P, straight line T(n) = a + b n (relative least squares):")
    print("  %5s %10s %14s %9s %7s" % ("P", "a_us", "b_ns_per_B", "GB/s", "rms"))
    for p in ranks_seen:
        sel = data[data[:, 0] == p]
        a0, b0, rms = fit_relative(np.ones(len(sel)), sel[:, 1], sel[:, 2])
        print("  %5d %10.3f %14.5f %9.2f %6.1f%%" %
              (p, a0 * 1e6, b0 * 1e9, 1e-9 / b0 if b0 > 0 else float("inf"), 100 * rms))

    print("\nalgorithms fitted over all P (T = A(P) alpha + B(P) n beta), --fit %s "
          "(and %s):" % (a.fit, other))
    print("  %-19s %10s %14s %7s   %10s %14s %7s" % ("algorithm", "alpha_us", "beta_ns_per_B",
          "rms", "alpha_us", "beta_ns_per_B", "rms"))
    for name, (alpha, beta, rms) in sorted(fits.items(), key=lambda kv: kv[1][2]):
        oa, ob, orms = fits_other[name]
        print("  %-19s %10.3f %14.5f %6.1f%%   %10.3f %14.5f %6.1f%%" %
              (name, alpha * 1e6, beta * 1e9, 100 * rms, oa * 1e6, ob * 1e9, 100 * orms))
    best = min(fits, key=lambda k: fits[k][2])
    if len(ranks_seen) < 2:
        print("  (one P only: the algorithms differ only by constant factors, all fit alike;"
              " measure several P to tell them apart)")
    else:
        print("  best fit: %s" % best)

    if a.alpha_us is not None and a.beta_ns is not None:
        return predict_wide(a, a.alpha_us * 1e-6, a.beta_ns * 1e-9, "given link")
    if a.layers:
        alpha, beta, _ = fits[a.algorithm]
        return predict_wide(a, alpha, beta, "fitted as " + a.algorithm)
    if not a.compute_us_per_example:
        print("\n(no --compute-us-per-example or --samples-per-s: no step prediction)")
        return
    t_ex = a.compute_us_per_example * 1e-6
    nbytes = a.message_bytes or MSG_BYTES[a.kind]
    alpha, beta, _ = fits[a.algorithm]
    formula = a.predict_algorithm or a.algorithm
    print("\nprediction with the %s formula, alpha and beta fitted as %s: alpha %.3f us, "
          "beta %.5f ns/B, message %d B, compute "
          "%.2f us/example/rank" %
          (formula, a.algorithm, alpha * 1e6, beta * 1e9, nbytes, t_ex * 1e6))
    header = ["P", "B", "compute_us", "allreduce_us", "step_us", "efficiency", "B_for_90pct"]
    rows = []
    for p in (int(x) for x in a.ranks.split(",")):
        t_c = comm_time(formula, alpha, beta, p, nbytes)
        b90 = batch_for(0.9, p, t_c, t_ex)
        for b in (int(x) for x in a.batches.split(",")):
            comp = b / p * t_ex
            step = comp + t_c
            rows.append([p, b, comp * 1e6, t_c * 1e6, step * 1e6, comp / step, b90])
    fmt = "%6d %7d %11.2f %13.2f %10.2f %10.3f %12d"
    print("%6s %7s %11s %13s %10s %10s %12s" % tuple(header))
    for r in rows:
        note = "  (B < P: idle ranks)" if r[1] < r[0] else ""
        if r[6] > a.train_examples:
            note += "  (B_90 > %d examples: unreachable)" % a.train_examples
        print(fmt % tuple(r) + note)
    if a.out:
        with open(a.out, "w", newline="") as f:
            if a.out.endswith(".csv"):
                w = csv.writer(f)
                w.writerow(["setting", "algorithm", "alpha_us", "beta_ns_per_B"] + header)
                for r in rows:
                    w.writerow([label, formula, "%.4f" % (alpha * 1e6),
                                "%.6f" % (beta * 1e9)] + ["%.4g" % x for x in r])
            else:
                f.write("| " + " | ".join(header + ["note"]) + " |\n")
                f.write("|" + "---|" * (len(header) + 1) + "\n")
                for r in rows:
                    note = "; ".join(x for x in (
                        "B < P" if r[1] < r[0] else "",
                        "B_90 > %d examples" % a.train_examples
                        if r[6] > a.train_examples else "") if x)
                    f.write("| %d | %d | %.1f | %.1f | %.1f | %.3g%% | %d | %s |\n" %
                            (r[0], r[1], r[2], r[3], r[4], 100 * r[5], r[6], note))


def predict_wide(a, alpha, beta, source):
    """Step time and efficiency of the --layers network, overlap off and on."""
    if not a.layers:
        sys.exit("comm_model.py: error: a given link (--alpha-us, --beta-ns, --link-rate) "
                 "predicts with --layers")
    if not a.compute_us_per_example:
        sys.exit("comm_model.py: error: --compute-us-per-example or --samples-per-s needed")
    net = Network([int(x) for x in a.layers.split(",")])
    value_bytes = 4 if a.kind == "float" else a.sum_bytes
    share = a.backward_share if a.backward_share is not None else net.flop_backward_share
    t_ex = a.compute_us_per_example * 1e-6
    t_ref = (a.reference_us_per_example or a.compute_us_per_example) * 1e-6
    formula = a.predict_algorithm or a.algorithm
    overlaps = {"off": [False], "on": [True], "both": [False, True]}[a.overlap]

    def oversub(p):
        return max(1.0, p * a.threads / a.cores) if a.cores else 1.0

    if a.step_query:
        for q in a.step_query:
            p, b = (int(x) for x in q.split(":"))
            for ov in overlaps:
                r = step_prediction(net, formula, alpha, beta, p, b, t_ex, t_ref, value_bytes,
                                    share, oversub(p), ov, a.buckets)
                print("step %d %d %s %.2f %.2f %.2f %.2f %.4f" %
                      (p, b, "on" if ov else "off", *(1e6 * x for x in r[:4]), r[4]))
        return
    sizes = bucket_bytes(net.buckets(a.buckets, value_bytes != 4), value_bytes)
    print("# step model of %s (%d parameters; %.0f B per step as %g-byte values; overlap: "
          "%s buckets of %s B)" % (a.layers, net.n_params, sum(sizes), value_bytes, a.buckets,
                                   ", ".join("%.0f" % x for x in sizes)))
    print("# %s formula, alpha %.3f us, beta %.5f ns/B (%s); compute %.2f us/example/rank, "
          "backward share %.2f%s" % (formula, alpha * 1e6, beta * 1e9, source, t_ex * 1e6,
                                     share, ", %d cores" % a.cores if a.cores else ""))
    header = ["P", "B", "overlap", "compute_us", "comm_us", "exposed_us", "step_us",
              "efficiency"]
    rows = []
    for p in (int(x) for x in a.ranks.split(",")):
        for b in (int(x) for x in a.batches.split(",")):
            for ov in overlaps:
                r = step_prediction(net, formula, alpha, beta, p, b, t_ex, t_ref, value_bytes,
                                    share, oversub(p), ov, a.buckets)
                rows.append([p, b, "on" if ov else "off"] + [1e6 * x for x in r[:4]] + [r[4]])
    print("%6s %7s %8s %11s %11s %11s %11s %10s" % tuple(header))
    for r in rows:
        print("%6d %7d %8s %11.1f %11.1f %11.1f %11.1f %10.3f" % tuple(r))
    if a.out:
        with open(a.out, "w", newline="") as f:
            if a.out.endswith(".csv"):
                w = csv.writer(f)
                w.writerow(["layers", "algorithm", "alpha_us", "beta_ns_per_B"] + header)
                for r in rows:
                    w.writerow([a.layers, formula, "%.4f" % (alpha * 1e6), "%.6f" % (beta * 1e9)]
                               + r[:3] + ["%.4g" % x for x in r[3:]])
            else:
                f.write("| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n")
                for r in rows:
                    f.write("| %d | %d | %s | %.1f | %.1f | %.1f | %.1f | %.3g%% |\n" %
                            (r[0], r[1], r[2], r[3], r[4], r[5], r[6], 100 * r[7]))


if __name__ == "__main__":
    main()
