#!/usr/bin/env python3
"""Summaries of stored halab runs (the JSON files under a --runs-dir).

  summarize.py table DIR...        one Markdown row per (lab file, scenario):
                                   median and min–max over the runs
  summarize.py pool DIR...         the same for lb-pair runs: time until the
                                   dead web server left the VIP holder's pool
  summarize.py timeline RUN.json   the events around the fault, one a line
                                   (what the verdict's numbers came from)
  summarize.py jitter < OUTPUT     bench/probe-jitter.sh's output as a table
  summarize.py idle DIR --stress S  VRRP transitions and dual-owner windows of
                                   `idle` runs, one row per swept value
  summarize.py curves REPORT.html OUT.svg
                                   the HTML report's failover curves as one SVG

Standard library only: the bench scripts run it on a bare machine.
"""

import argparse
import glob
import json
import os
import re
import statistics
import sys


def load_runs(dirs):
    runs = []
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(d, "*.json"))):
            with open(path, encoding="utf-8") as f:
                run = json.load(f)
            run["_path"] = path
            runs.append(run)
    return runs


def ms(us):
    return None if us is None else us / 1000.0


def fmt_ms(v):
    if v is None:
        return "–"
    return f"{v:.0f}" if v >= 10 else f"{v:.1f}"


def fmt_count(v):
    return "–" if v is None else (f"{v:g}")


def spread(values, fmt):
    """`median (min–max)` of the known values; `never` when one is missing."""
    known = [v for v in values if v is not None]
    missing = len(values) - len(known)
    if not known:
        return "never"
    med = statistics.median(known)
    text = fmt(med)
    if len(known) > 1:
        text += f" ({fmt(min(known))}–{fmt(max(known))})"
    if missing:
        text += f", {missing}× never"
    return text


def metrics_of(run):
    m = run["verdict"]["metrics"]
    return {
        "switch": ms(m.get("switch")),
        "vrrp": ms(m.get("vrrp_takeover")),
        "failed": m.get("failed"),
        "late": m.get("late"),
        "worst": ms(m.get("worst_answer")),
        "dual": ms(m.get("dual_owner_longest")),
        "status": run["verdict"]["status"],
        "removed": ms(m.get("pool_removed")),
    }


def grouped(dirs):
    """Each (lab, scenario)'s metrics, or None (said on stderr) when no run."""
    runs = load_runs(dirs)
    if not runs:
        print(f"no runs under {', '.join(dirs)}", file=sys.stderr)
        return None
    groups = {}
    for run in runs:
        lab = os.path.splitext(os.path.basename(run["lab_file"]))[0]
        groups.setdefault((lab, run["scenario"]), []).append(metrics_of(run))
    return groups


def table(args):
    groups = grouped(args.dirs)
    if groups is None:
        return 2
    print(
        "| lab | scenario | runs | pass | switch ms | VRRP takeover ms "
        "| failed | late | worst answer ms | dual owner ms |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (lab, scenario), ms_ in sorted(groups.items()):
        col = lambda k, f: spread([m[k] for m in ms_], f)  # noqa: E731
        passed = sum(1 for m in ms_ if m["status"] == "pass")
        print(
            f"| {lab} | {scenario} | {len(ms_)} | {passed} | {col('switch', fmt_ms)} "
            f"| {col('vrrp', fmt_ms)} | {col('failed', fmt_count)} | {col('late', fmt_count)} "
            f"| {col('worst', fmt_ms)} | {col('dual', fmt_ms)} |"
        )
    return 0


def pool(args):
    groups = grouped(args.dirs)
    if groups is None:
        return 2
    print(
        "| lab | scenario | runs | pass | out of the pool ms | failed | late "
        "| worst answer ms | switch ms |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (lab, scenario), ms_ in sorted(groups.items()):
        col = lambda k, f: spread([m[k] for m in ms_], f)  # noqa: E731
        passed = sum(1 for m in ms_ if m["status"] == "pass")
        web = scenario.endswith("-web")
        print(
            f"| {lab} | {scenario} | {len(ms_)} | {passed} "
            f"| {col('removed', fmt_ms) if web else '–'} | {col('failed', fmt_count)} "
            f"| {col('late', fmt_count)} | {col('worst', fmt_ms)} "
            f"| {'–' if web else col('switch', fmt_ms)} |"
        )
    return 0


def timeline(args):
    with open(args.run, encoding="utf-8") as f:
        run = json.load(f)
    m = run["verdict"]["metrics"]
    fault = m.get("fault_at") or 0
    lo, hi = args.before * 1000, args.after * 1000
    print(f"# {run['id']}  ({run['lab_file']}, {run['scenario']}): times in ms from the fault")
    for e in run["timeline"]["events"]:
        t = e["at"] - fault
        if t < -lo or t > hi:
            continue
        kind = e["type"]
        if kind == "request":
            o = e["outcome"]
            what = o.get("node") or o["kind"] + (f" {o['error']}" if "error" in o else "")
            lat = (e["done"] - e["sent"]) / 1000
            if args.quiet and lat <= args.late and o["kind"] == "page":
                continue
            print(
                f"{(e['sent'] - fault) / 1000:9.1f} → {(e['done'] - fault) / 1000:9.1f}"
                f"  request #{e['seq']} {lat:7.1f} ms  {what}"
            )
        else:
            detail = " ".join(
                str(e[k]) for k in ("node", "state", "action", "text") if k in e
            )
            if kind == "vip":
                detail += " holds VIP" if e["holds"] else " lost VIP"
            print(f"{t / 1000:9.1f}            {kind:11} {detail}")
    v = run["verdict"]
    print(
        f"# verdict {v['status']}: switch {fmt_ms(ms(m.get('switch')))} ms, failed {m['failed']}, "
        f"late {m['late']}, worst {fmt_ms(ms(m.get('worst_answer')))} ms, "
        f"VRRP takeover {fmt_ms(ms(m.get('vrrp_takeover')))} ms"
    )
    return 0


UNITS = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1000.0}


def parse_ms(text):
    """Rust's `{:?}` of a Duration (`95.123µs`, `1.2ms`) in milliseconds."""
    m = re.fullmatch(r"([0-9.]+)(ns|µs|us|ms|s)", text)
    if not m:
        raise ValueError(f"not a duration: {text!r}")
    return float(m.group(1)) * UNITS[m.group(2)]


def jitter(args):
    rows = []
    schedule = None
    for line in sys.stdin:
        head = re.match(r"probe every (\S+) for (\S+) against (\S+): (\d+) fired", line)
        if head:
            schedule = head.group(1)
            fired = head.group(4)
        m = re.match(r"send jitter\s+p50\s+(\S+)\s+p90\s+(\S+)\s+p99\s+(\S+)\s+max\s+(\S+)", line)
        if m:
            rows.append((schedule, fired, *(parse_ms(v) for v in m.groups())))
    if not rows:
        print("no `send jitter` line in the input", file=sys.stderr)
        return 2
    print("| round | schedule | fired | send jitter p50 ms | p90 ms | p99 ms | max ms |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for i, (sched, fired, p50, p90, p99, mx) in enumerate(rows, 1):
        print(f"| {i} | every {sched} | {fired} | {p50:.3f} | {p90:.3f} | {p99:.3f} | {mx:.3f} |")
    return 0


def idle(args):
    """Transitions and dual-owner windows of `idle` runs, per swept value."""
    runs = [r for r in load_runs(args.dirs) if r["scenario"] == "idle"]
    if not runs:
        print(f"no idle run under {', '.join(args.dirs)}", file=sys.stderr)
        return 2
    rows = {}
    for run in runs:
        point = " ".join(f"{k}={v}" for k, v in sorted(run["spec"].get("point", {}).items()))
        m = run["verdict"]["metrics"]
        # Each node's first state is the baseline, not a transition (as
        # `verdict::transitions` counts them).
        n = sum(1 for c in m.get("vrrp", []) if c["offset"] >= 0)
        rows.setdefault((args.stress, point), []).append((n, len(m.get("dual_owner", []))))
    print("| stress | setting | runs | VRRP transitions | dual-owner windows |")
    print("| --- | --- | --- | --- | --- |")

    def key(item):
        (_, point), _ = item
        value = point.split("=", 1)[-1]
        try:
            return parse_ms(value)
        except ValueError:
            return float("inf")

    for (stress, point), vals in sorted(rows.items(), key=key):
        ts = ", ".join(str(t) for t, _ in vals)
        ds = ", ".join(str(d) for _, d in vals)
        print(f"| {stress} | {point} | {len(vals)} | {ts} | {ds} |")
    return 0


def curves(args):
    """The HTML report's failover curves as one standalone SVG (a grid:
    one row per scenario, one column per metric) on a white ground."""
    html = open(args.html, encoding="utf-8").read()
    svgs = re.findall(r'<svg class="curve".*?</svg>', html, flags=re.S)
    if not svgs:
        print(f"no failover curve in {args.html}", file=sys.stderr)
        return 2
    cols = 3
    w, h, top = 360, 200, 28
    rows = (len(svgs) + cols - 1) // cols
    width, height = cols * w, top + rows * h
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="18" font-size="13">{args.title}</text>',
    ]
    for i, svg in enumerate(svgs):
        x, y = (i % cols) * w, top + (i // cols) * h
        title = re.search(r"<title>(.*?)</title>", svg).group(1)
        # "worst answer of kill-master against vrrp.advert_int" → "kill-master: worst answer"
        m = re.fullmatch(r"(.*) of (.*) against (.*)", title)
        if m:
            title = f"{m.group(2)}: {m.group(1)}"
        svg = svg.replace('<svg class="curve"', f'<svg x="{x}" y="{y}"', 1)
        # Each panel's own caption names its scenario too.
        svg = re.sub(r'(<text x="60" y="14" font-size="12">)(.*?)(</text>)',
                     lambda m: m.group(1) + title + m.group(3), svg, count=1)
        out.append(svg)
    out.append("</svg>")
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {args.out} ({len(svgs)} curves)", file=sys.stderr)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("table", help="median and spread per lab and scenario")
    t.add_argument("dirs", nargs="+", metavar="DIR")
    t.set_defaults(func=table)
    pl = sub.add_parser("pool", help="lb-pair runs: pool removal, failures, worst answer")
    pl.add_argument("dirs", nargs="+", metavar="DIR")
    pl.set_defaults(func=pool)
    tl = sub.add_parser("timeline", help="events around the fault of one run")
    tl.add_argument("run", metavar="RUN.json")
    tl.add_argument("--before", type=float, default=50, help="ms before the fault (50)")
    tl.add_argument("--after", type=float, default=600, help="ms after the fault (600)")
    tl.add_argument("--quiet", action="store_true", help="hide prompt page answers")
    tl.add_argument("--late", type=float, default=20, help="with --quiet: hide answers faster than this (ms)")
    tl.set_defaults(func=timeline)
    j = sub.add_parser("jitter", help="bench/probe-jitter.sh output (stdin) as a table")
    j.set_defaults(func=jitter)
    i = sub.add_parser("idle", help="VRRP transitions of idle runs per swept value")
    i.add_argument("dirs", nargs="+", metavar="DIR")
    i.add_argument("--stress", default="none", help="the stress the runs had (a label)")
    i.set_defaults(func=idle)
    c = sub.add_parser("curves", help="the HTML report's curves as one SVG file")
    c.add_argument("html", metavar="REPORT.html")
    c.add_argument("out", metavar="OUT.svg")
    c.add_argument("--title", default="failover curves")
    c.set_defaults(func=curves)
    args = p.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
