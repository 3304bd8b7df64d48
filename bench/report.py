#!/usr/bin/env python3
"""bench/build's report: per-step and per-stage seconds of each run, and the ratios against issue 16's goals.

report.py DIR [--json OUT]   DIR holds cold.events and warm.events (kiln build --events-fd, one JSON
                             object per line, docs/events.md) and bare.seconds (the bare QEMU run's
                             wall clock: it has no events). Where DIR also holds each run's installer
                             syslog (RUN.qcow2.d/installer/syslog as kiln build copies it out, or
                             RUN-inspect/installer/syslog as kiln inspect does), the installer's own
                             steps are printed side by side for the three runs, bare included.
"""
import datetime, json, os, re, sys

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
    run = {"steps": steps, "stages": stages, "total": total, "install": stages.get("install", 0), "post": post}
    if "proxy" in result:
        run["proxy"] = result["proxy"]
    return run


MENU = re.compile(r"^(\w{3} +\d+ \d\d:\d\d:\d\d) .*main-menu\[\d+\]: INFO: Menu item '([^']+)' selected")
STAMP = re.compile(r"^(\w{3} +\d+ \d\d:\d\d:\d\d) ")


def syslog_steps(d, run):
    """[[step, seconds]...] from the installer's syslog: each main-menu item lasts until the next one,
    the last until the log's last line (the installer's own clock, one-second resolution); None
    when the run left no syslog."""
    for rel in (f"{run}.qcow2.d/installer/syslog", f"{run}-inspect/installer/syslog"):
        path = os.path.join(d, rel)
        if os.path.exists(path):
            break
    else:
        return None
    # syslog's stamps have no year: count days from the first one, across a new year too
    def stamp(text):
        t = datetime.datetime.strptime("2000 " + " ".join(text.split()), "%Y %b %d %H:%M:%S")
        return t.timestamp()
    steps, cur, start, last = [], None, None, None
    for line in open(path, errors="replace"):
        m = STAMP.match(line)
        if not m:
            continue
        t = stamp(m.group(1))
        if last is not None and t < last - 86400:  # Dec 31 -> Jan 1
            t += 366 * 86400
        last = t
        m = MENU.match(line)
        if m:
            if cur is not None:
                steps.append([cur, round(t - start, 1)])
            cur, start = m.group(2), t
    if cur is not None:
        steps.append([cur, round(last - start, 1)])
    return steps


def main():
    d = sys.argv[1]
    out = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
    runs = {r: read_events(f"{d}/{r}.events") for r in ("cold", "warm")}
    bare = float(open(f"{d}/bare.seconds").read())
    runs["bare"] = {"steps": [], "stages": {}, "total": round(bare, 1), "install": round(bare, 1), "post": 0}
    # bare2: a second bare run beside warm (bench/build.sh's second phase), where there is one
    if os.path.exists(f"{d}/bare2.seconds"):
        b2 = float(open(f"{d}/bare2.seconds").read())
        runs["bare2"] = {"steps": [], "stages": {}, "total": round(b2, 1), "install": round(b2, 1), "post": 0}
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
    installer = {r: syslog_steps(d, r) for r in ("cold", "warm", "bare")}
    if any(installer.values()):
        names = []
        for r in ("cold", "warm", "bare"):
            for n, _ in installer[r] or []:
                if n not in names:
                    names.append(n)
        print(f"\n{'installer step':<22}{'cold':>9}{'warm':>9}{'bare':>9}{'cold/bare':>10}")
        for n in names:
            col = [sum(s for m, s in installer[r] or [] if m == n) if installer[r] is not None else None
                   for r in ("cold", "warm", "bare")]
            cells = "".join(f"{c:>9.1f}" if c is not None else f"{'-':>9}" for c in col)
            ratio = f"{col[0] / col[2]:>10.2f}" if col[0] is not None and col[2] else f"{'-':>10}"
            print(f"{n:<22}{cells}{ratio}")
        for r in ("cold", "warm", "bare"):
            if installer[r] is not None:
                runs[r]["installer_steps"] = installer[r]
    print(f"\n{'stage':<22}{'cold':>9}{'warm':>9}")
    for s in runs["cold"]["stages"]:
        print(f"{s:<22}{runs['cold']['stages'][s]:>9.1f}{runs['warm']['stages'].get(s, 0):>9.1f}")
    if any("proxy" in runs[r] for r in ("cold", "warm")):
        # what the guest's requests cost upstream (the warm path's goal is none beyond the signed
        # Release kiln checks itself): the proxy's own count; a result from before it had one, what
        # the cache did not answer and kiln did not refuse
        print(f"\n{'proxy':<8}{'requests':>9}{'cached':>9}{'upstream':>9}{'refused':>9}")
        for r in ("cold", "warm"):
            x = runs[r].get("proxy")
            if x:
                up = x["upstream"] if "upstream" in x else x["requests"] - x["cached"] - x["refused"]
                x["upstream"] = up
                print(f"{r:<8}{x['requests']:>9}{x['cached']:>9}{up:>9}{x['refused']:>9}")
    print(f"\n{'run':<8}{'total':>9}{'install':>9}{'post':>9}")
    for r in ("cold", "warm", "bare", "bare2"):
        if r in runs:
            print(f"{r:<8}{runs[r]['total']:>9.1f}{runs[r]['install']:>9.1f}{runs[r]['post']:>9.1f}")
    print()
    if "bare2" in runs:  # not goals: what the second phase's load was like
        print(f"{'warm install / bare2 install':<30}{runs['warm']['install'] / runs['bare2']['install']:>6.2f}  (side by side)")
        print(f"{'bare2 / bare':<30}{runs['bare2']['install'] / bare:>6.2f}  (the machine between the phases)")
    for name, ratio, goal in goals:
        print(f"{name:<30}{ratio:>6.2f}  goal <= {goal:.2f}  {'met' if ratio <= goal else 'NOT met'}")
    if out:
        doc = {"runs": runs, "goals": [{"name": n, "ratio": round(r, 3), "goal": g, "met": r <= g} for n, r, g in goals]}
        with open(out, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")


main()
