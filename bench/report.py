#!/usr/bin/env python3
"""bench/build's report: per-step and per-stage seconds of each run, and the ratios against issue 16's goals.

report.py DIR [--json OUT]   DIR holds cold.events and warm.events (kiln build --events-fd, one JSON
                             object per line, docs/events.md) and bare.seconds (the bare QEMU run's
                             wall clock: it has no events)
"""
import datetime, json, sys

POST = ("inspect", "bootloader", "convert", "boot-test", "manifest")


def when(e):
    return datetime.datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def read_events(path):
    """{steps: [[name, seconds]...], stages: {name: seconds}, total, install, post}."""
    events = [json.loads(l) for l in open(path) if l.strip()]
    steps, cur, start = [], None, None
    for e in events:
        # a step lasts until the next step's first event, or until the pipeline's next stage
        if e.get("type") == "step" and e.get("step") != cur or e.get("type") in ("stage", "result"):
            if cur is not None:
                steps.append([cur, round(when(e) - start, 1)])
            cur, start = (e["step"], when(e)) if e.get("type") == "step" else (None, None)
    result = next((e for e in events if e.get("type") == "result"), None)
    if result is None:
        err = next((e.get("error") for e in events if e.get("type") == "error"), "no result event")
        raise SystemExit(f"report: {path}: the build did not succeed: {err}")
    stages = {k: round(v, 1) for k, v in result["stages"].items()}
    total = round(when(events[-1]) - when(events[0]), 1)
    post = round(sum(stages.get(s, 0) for s in POST), 1)
    return {"steps": steps, "stages": stages, "total": total, "install": stages.get("install", 0), "post": post}


def main():
    d = sys.argv[1]
    out = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
    runs = {r: read_events(f"{d}/{r}.events") for r in ("cold", "warm")}
    bare = float(open(f"{d}/bare.seconds").read())
    runs["bare"] = {"steps": [], "stages": {}, "total": round(bare, 1), "install": round(bare, 1), "post": 0}
    goals = [
        ("cold install / bare install", runs["cold"]["install"] / bare, 0.75),
        ("warm total / cold total", runs["warm"]["total"] / runs["cold"]["total"], 0.6),
        ("cold post-install / total", runs["cold"]["post"] / runs["cold"]["total"], 0.10),
        ("warm post-install / total", runs["warm"]["post"] / runs["warm"]["total"], 0.10),
    ]
    names = []
    for r in ("cold", "warm"):
        for n, _ in runs[r]["steps"]:
            if n not in names:
                names.append(n)
    print(f"{'step':<22}{'cold':>9}{'warm':>9}")
    for n in names:
        col = [sum(s for m, s in runs[r]["steps"] if m == n) for r in ("cold", "warm")]
        print(f"{n:<22}{col[0]:>9.1f}{col[1]:>9.1f}")
    print(f"\n{'stage':<22}{'cold':>9}{'warm':>9}")
    for s in runs["cold"]["stages"]:
        print(f"{s:<22}{runs['cold']['stages'][s]:>9.1f}{runs['warm']['stages'].get(s, 0):>9.1f}")
    print(f"\n{'run':<8}{'total':>9}{'install':>9}{'post':>9}")
    for r in ("cold", "warm", "bare"):
        print(f"{r:<8}{runs[r]['total']:>9.1f}{runs[r]['install']:>9.1f}{runs[r]['post']:>9.1f}")
    print()
    for name, ratio, goal in goals:
        print(f"{name:<30}{ratio:>6.2f}  goal <= {goal:.2f}  {'met' if ratio <= goal else 'NOT met'}")
    if out:
        doc = {"runs": runs, "goals": [{"name": n, "ratio": round(r, 3), "goal": g, "met": r <= g} for n, r, g in goals]}
        with open(out, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")


main()
