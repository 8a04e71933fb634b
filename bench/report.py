"""Writes doc/BENCHMARKS.md's figures from the JSON outputs of bench/run.

    python3 bench/report.py [--doc FILE] RUN.jsonl [RUN2.jsonl ...]
    python3 bench/report.py [--doc FILE] SCALE.jsonl [SCALE2.jsonl ...]

Every number in the generated part comes from the runs given: one table
with a row per figure and run (the median, the min-max spread and the
number of samples, aic's and the baseline's), a line per run saying where
and when it ran, and one line per figure saying what its baseline does.
Without --doc it prints the generated part. With --doc FILE it replaces
the part of FILE between the two marker lines below (which it writes
around its output) and leaves everything before and after them alone:
hand-written sections (how to run, what a figure means, a comparison of
two versions of bench/run) go outside the markers.

The outputs of bench/scale (figure lines with "nodes": the kind "scale",
and bench/chain_sim's "scale-weights") make the other generated part:
a table with a row per figure and a column per node count (the median
over the runs given, their min-max when more than one), the growth from
256 to 1,024 nodes, the issue's target at 1,024, and a link to each
figure's plot (bench/scale --plot doc/scale); with --doc it goes between
its own two markers (SCALE_BEGIN, SCALE_END), the rest left alone.
"""
import json
import re
import statistics
import sys

BEGIN = "<!-- bench/report.py: generated from here; edit outside these markers -->"
END = "<!-- bench/report.py: generated up to here -->"
SCALE_BEGIN = "<!-- bench/report.py: scale table generated from here; edit outside these markers -->"
SCALE_END = "<!-- bench/report.py: scale table generated up to here -->"
SCALE_PLOTS = "scale"  # the plots' folder, relative to the doc (bench/scale --plot doc/scale)
# The targets at 1,024 nodes (issue 21), by the start of the figure's name.
SCALE_TARGETS = (("bootstrap: first HELLO -> placed (CONFIG at the first agent)", "< 2 s"),
                 ("placement solver", "< 500 ms"), ("head RSS", "< 256 MiB"),
                 ("head peak RSS", "< 256 MiB"), ("steady state: bytes/s", "< 1 MB/s"),
                 ("aic status", "< 200 ms"), ("STATUS round trip", "< 200 ms"))
UNITS = {"1/s": "/s", "us": " µs", "ms": " ms", "s": " s", "KiB": " KiB", "GB/s": " GB/s",
         "MB/s": " MB/s", "x": "×", "fraction": ""}


def num(v):
    if v is None:
        return "–"
    if abs(v) >= 1000:
        return "{:,.0f}".format(v)
    return "{:.3g}".format(v) if abs(v) < 100 else "{:.0f}".format(v)


def cell(line, prefix, unit):
    v = line.get(prefix + "value")
    if v is None:
        return ""
    u = UNITS.get(unit, " " + unit)
    return "%s%s (%s–%s), n=%d" % (num(v), u, num(line[prefix + "min"]), num(line[prefix + "max"]),
                                   line[prefix + "n"])


def took(end):
    if end is None:
        return "(no end line: the run was cut short)"
    text = "%d min %02d s" % divmod(end[0], 60)
    return text + (" (and %d s waiting for the cluster lock)" % end[1] if end[1] else "")


def load(path):
    meta, end, figures, notes = {}, None, [], []
    for text in open(path):
        text = text.strip()
        if not text.startswith("{"):
            continue
        x = json.loads(text)
        if x.get("bench") == "run":
            meta = x
        elif x.get("bench") == "run-end":
            end = (int(x["seconds"]), int(x.get("lock_wait_s", 0)))
        elif "figure" in x:
            figures.append(x)
        elif "skipped" in x or "error" in x:
            notes.append(x)
    if not meta:
        sys.exit("report: '%s' has no {\"bench\": \"run\"} line: not an output of bench/run" % path)
    return meta, end, figures, notes


def generate(runs):
    out = [BEGIN, "", "## Figures", ""]
    for i, (meta, end, _, notes) in enumerate(runs, 1):
        out.append("- Run %d: %s, commit %s%s; %s, %d cores, %s GiB, Linux %s; %d samples a side "
                   "per figure; took %s.%s" % (
                       i, meta["date"], meta["commit"], " (with local changes)" if meta.get("dirty") else "",
                       meta["cpu"], meta["cores"], meta["mem_gib"], meta["kernel"], meta["reps"],
                       took(end),
                       " " + meta["note"] if meta.get("note") else ""))
        for n in notes:
            out.append("  - %s %s: %s" % (n["bench"], "skipped" if "skipped" in n else "ERROR",
                                          n.get("skipped") or n.get("error")))
    out += ["", "Each cell: median (min–max) over n samples; aic's and the baseline's samples "
            "were taken in alternating order in the same run. Ratio: aic's median over the "
            "baseline's (in brackets: the lowest and highest ratio of one repetition's pair of "
            "samples, where the samples were taken in pairs, or of one repetition's medians, "
            "where a repetition took several of each); difference: aic's minus the "
            "baseline's.", "",
            "| # | figure | run | aic | baseline | baseline's figure | ratio | difference |",
            "|---|---|---|---|---|---|---|---|"]
    order, rows = [], {}
    for r, (_, _, figures, _) in enumerate(runs, 1):
        for f in figures:
            key = (f["bench"], f["figure"], f["baseline"])
            if key not in rows:
                order.append(key)
                rows[key] = {}
            rows[key][r] = f
    does = []
    for k, key in enumerate(order, 1):
        bench, figure, baseline = key
        first = True
        for r in range(1, len(runs) + 1):
            f = rows[key].get(r)
            label = "%d" % k if first else ""
            name = "%s: %s" % (bench, figure) if first else ""
            base = (baseline or "none") if first else ""
            if f is None:
                out.append("| %s | %s | %d | (not in this run) | | | | |" % (label, name, r))
            else:
                extra = ""
                if "skipped_versions" in f:
                    extra = "; %d of %d versions skipped" % (f["skipped_versions"], f["versions"])
                u = UNITS.get(f["unit"], " " + f["unit"])
                out.append("| %s | %s | %d | %s%s | %s | %s | %s | %s |" % (
                    label, name, r, cell(f, "", f["unit"]), extra, base,
                    cell(f, "baseline_", f["unit"]),
                    (num(f["ratio"]) + (" (%s–%s)" % (num(f["ratio_min"]), num(f["ratio_max"]))
                                        if "ratio_min" in f else ""))
                    if f.get("ratio") is not None else "",
                    ("%s%s%s" % ("+" if f["difference"] > 0 else "", num(f["difference"]), u))
                    if f.get("difference") is not None else ""))
            first = False
        d = next((rows[key][r]["baseline_does"] for r in rows[key]), None)
        does.append("%d. **%s** — %s." % (k, baseline or "no baseline", d or "(not said)"))
    out += ["", "### What each baseline does", ""] + does + ["", END]
    return "\n".join(out) + "\n"


def is_scale(path):
    """Whether `path` is an output of bench/scale (figure lines with "nodes"), not of bench/run."""
    for text in open(path):
        text = text.strip()
        if text.startswith("{"):
            x = json.loads(text)
            if x.get("bench") == "run":
                return False
            if "figure" in x and "nodes" in x:
                return True
    return False


def slug(text):
    """bench/scale_plot.py's name for a figure's plot."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def scale_generate(paths):
    cells, order, units, nodes, benches = {}, [], {}, set(), {}
    for path in paths:
        benches[path] = set()
        for text in open(path):
            text = text.strip()
            if not text.startswith("{"):
                continue
            x = json.loads(text)
            if "figure" not in x or "nodes" not in x or x.get("value") is None:
                continue
            key = (x["bench"], x["figure"])
            benches[path].add(x["bench"])
            if key not in units:
                order.append(key)
                units[key] = x["unit"]
            cells.setdefault(key, {}).setdefault(x["nodes"], []).append(x)
            nodes.add(x["nodes"])
    if not cells:
        sys.exit("report: no bench/scale figures (lines with \"nodes\") in %s" % ", ".join(paths))
    ns = sorted(nodes)
    kinds = {b: sum(1 for p in paths if b in benches[p]) for b in ("scale", "scale-weights")}
    runs = "; ".join("%d run%s of `bench/%s`" % (k, "" if k == 1 else "s", b)
                     for b, k in kinds.items() if k)
    out = [SCALE_BEGIN, "", "### Every figure against the node count", "",
           "From %s (node counts %s): each cell is the median over the runs (min–max across "
           "them when more than one; within a run, the median of the run's samples). Growth: "
           "the value at 1,024 nodes over the value at 256 (linear: 4×). Target: the issue's, "
           "at 1,024 nodes." % (runs, ", ".join("{:,}".format(n) for n in ns)), "",
           "| figure | unit | " + " | ".join("N = {:,}".format(n) for n in ns) +
           " | 256 → 1,024 | target at 1,024 | plot |",
           "|---|---|" + "---|" * len(ns) + "---|---|---|"]
    for key in order:
        bench, figure = key
        row, med = [], {}
        for n in ns:
            xs = cells[key].get(n)
            if not xs:
                row.append("–")
                continue
            vals = sorted(x["value"] for x in xs)
            med[n] = statistics.median(vals)
            row.append(num(med[n]) + (" (%s–%s)" % (num(vals[0]), num(vals[-1]))
                                      if len(vals) > 1 else ""))
        growth = ("%.1f×" % (med[1024] / med[256])) if med.get(256) and 1024 in med else ""
        target = next((t for prefix, t in SCALE_TARGETS if figure.startswith(prefix)
                       and bench == "scale"), "")
        plot = ("[png](%s/scale-%s.png)" % (SCALE_PLOTS, slug(figure))) if bench == "scale" else ""
        out.append("| %s | %s | %s | %s | %s | %s |" % (
            figure if bench == "scale" else "%s: %s" % (bench, figure), units[key],
            " | ".join(row), growth, target, plot))
    out += ["", "![every figure against N, log axes](%s/scale.png)" % SCALE_PLOTS, "", SCALE_END]
    return "\n".join(out) + "\n"


def replace_between(doc, begin, end, text):
    old = open(doc).read()
    if old.count(begin) != 1 or old.count(end) != 1 or old.index(begin) > old.index(end):
        sys.exit("report: '%s' needs the marker lines once each, in order:\n%s\n%s" % (doc, begin, end))
    head, rest = old.split(begin, 1)
    tail = rest.split(end, 1)[1]
    with open(doc, "w") as f:
        f.write(head + text.rstrip("\n") + tail)


def main(argv):
    doc = None
    if len(argv) >= 2 and argv[0] == "--doc":
        doc, argv = argv[1], argv[2:]
    if not argv or any(a.startswith("-") for a in argv):
        sys.exit("usage: bench/report.py [--doc FILE] RUN.jsonl [RUN2.jsonl ...]")
    scale = [is_scale(p) for p in argv]
    if any(scale) and not all(scale):
        sys.exit("report: give either bench/run's outputs or bench/scale's, not both: %s" % ", ".join(
            "'%s' (%s)" % (p, "scale" if k else "run") for p, k in zip(argv, scale)))
    if all(scale):
        text, begin, end = scale_generate(argv), SCALE_BEGIN, SCALE_END
    else:
        text, begin, end = generate([load(p) for p in argv]), BEGIN, END
    if doc is None:
        sys.stdout.write(text)
        return
    replace_between(doc, begin, end, text)


if __name__ == "__main__":
    main(sys.argv[1:])
