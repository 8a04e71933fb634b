"""Writes doc/BENCHMARKS.md's figures from the JSON outputs of bench/run.

    python3 bench/report.py [--doc FILE] RUN.jsonl [RUN2.jsonl ...]

Every number in the generated part comes from the runs given: one table
with a row per figure and run (the median, the min-max spread and the
number of samples, aic's and the baseline's), a line per run saying where
and when it ran, and one line per figure saying what its baseline does.
Without --doc it prints the generated part. With --doc FILE it replaces
the part of FILE between the two marker lines below (which it writes
around its output) and leaves everything before and after them alone:
hand-written sections (how to run, what a figure means, a comparison of
two versions of bench/run) go outside the markers.
"""
import json
import sys

BEGIN = "<!-- bench/report.py: generated from here; edit outside these markers -->"
END = "<!-- bench/report.py: generated up to here -->"
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
            "samples, where the samples were taken in pairs); difference: aic's minus the "
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


def main(argv):
    doc = None
    if len(argv) >= 2 and argv[0] == "--doc":
        doc, argv = argv[1], argv[2:]
    if not argv or any(a.startswith("-") for a in argv):
        sys.exit("usage: bench/report.py [--doc FILE] RUN.jsonl [RUN2.jsonl ...]")
    text = generate([load(p) for p in argv])
    if doc is None:
        sys.stdout.write(text)
        return
    old = open(doc).read()
    if old.count(BEGIN) != 1 or old.count(END) != 1 or old.index(BEGIN) > old.index(END):
        sys.exit("report: '%s' needs the marker lines once each, in order:\n%s\n%s" % (doc, BEGIN, END))
    head, rest = old.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(doc, "w") as f:
        f.write(head + text.rstrip("\n") + tail)


if __name__ == "__main__":
    main(sys.argv[1:])
