"""bench/scale's plots: each figure against the node count on log axes
(zeros left out).

    python3 bench/figures.py scale < RAW | python3 bench/scale_plot.py DIR

Reads figure lines (bench/figures.py's form, with "nodes"; from several
runs, the median of each figure's values at each N) and writes
DIR/scale-NAME.png per figure, NAME from the figure's words, with a
dashed line of linear growth from the smallest N for comparison, and
DIR/scale.png with every figure on one page.
"""
import json
import re
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def draw(ax, figure, unit, pts):
    # A zero (CPU time below the clock's tick at small N) has no place on a log axis: left out.
    pts = [(n, v) for n, v in pts if v > 0]
    if not pts:
        ax.set_title(figure + " (all zero)", fontsize=8)
        return
    xs = [n for n, _ in pts]
    ys = [v for _, v in pts]
    ax.loglog(xs, ys, "o-", base=2)
    ax.loglog(xs, [ys[0] * x / xs[0] for x in xs], "--", color="grey", base=2,
              label="linear from N=%d" % xs[0])
    ax.set_xlabel("nodes (8 GPUs, ~8 processes each)")
    ax.set_ylabel(unit)
    ax.set_title(figure, fontsize=8)
    ax.grid(True, which="both", alpha=0.3)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: scale_plot.py DIR < FIGURES")
    figs = {}
    for text in sys.stdin:
        if not text.startswith("{"):
            continue
        x = json.loads(text)
        if x.get("bench") != "scale":
            continue
        figs.setdefault((x["figure"], x["unit"]), {}).setdefault(x["nodes"], []).append(x["value"])
    if not figs:
        sys.exit("scale_plot: no bench/scale figures on stdin")
    figs = {k: [(n, statistics.median(v)) for n, v in by_n.items()] for k, by_n in figs.items()}
    for (figure, unit), pts in figs.items():
        pts.sort()
        fig, ax = plt.subplots(figsize=(5, 3.5))
        draw(ax, figure, unit, pts)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig("%s/scale-%s.png" % (sys.argv[1], slug(figure)), dpi=100)
        plt.close(fig)
    cols = 3
    rows = (len(figs) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.5 * rows), squeeze=False)
    for ax, ((figure, unit), pts) in zip(axes.flat, figs.items()):
        draw(ax, figure, unit, sorted(pts))
    for ax in list(axes.flat)[len(figs):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig("%s/scale.png" % sys.argv[1], dpi=80)


if __name__ == "__main__":
    main()
