#!/usr/bin/env python3
"""Turns bench/run's raw measurements into a table of medians, ranges and moat/peer ratios.

    report.py RAW.jsonl [RESULTS.json [CHART.png]]

Each figure says where it was measured: `local` (this machine's /dev/kvm) or `lab` (QEMU/TCG
with nested kvm_amd). Absolute times hold only for that place; the ratios are the point.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict

PHASES = ("pio-out", "pio-in", "mmio-read")
# The oci part (bench/oci-bench): bench -> metric; the peer is runc.
OCI = {
    "oci-podman": "podman run --rm true",
    "oci-alone": "OCI runtime alone: create..exit",
    "oci-uncached": "podman run, image not cached",
}
# Issue 16's target: `podman run` with moat-oci within 1 s of runc's plus the VM's boot (the lab's
# "boot to exit" of the same series).
OCI_MARGIN = "podman run: moat - runc - VM boot"
# metric -> (unit, better, target description, check(ratio or value) or None)
TARGETS = {
    # Against both boot peers: QEMU microvm as specified (no RTC) and with its RTC, which boots
    # faster (bench/README.md, "Where the boot ratio comes from"); the headline is the latter.
    "boot to exit": ("ratio <= 0.55", lambda r, v: None if r is None else r <= 0.55),
    "boot to exit (QEMU with RTC)": ("ratio <= 0.55", lambda r, v: None if r is None else r <= 0.55),
    "launch storm: all at init": ("ratio <= 0.5", lambda r, v: None if r is None else r <= 0.5),
    "VMM overhead @256M": ("<= 2 MiB", lambda r, v: v <= 2.0),
    "VMM overhead @512M": ("<= 2 MiB", lambda r, v: v <= 2.0),
    "VMM overhead @64M": ("<= 2 MiB", lambda r, v: v <= 2.0),
    "exit pio-out": ("ratio <= 1.1", lambda r, v: None if r is None else r <= 1.1),
    "exit pio-in": ("ratio <= 1.1", lambda r, v: None if r is None else r <= 1.1),
    "exit mmio-read": ("ratio <= 1.1", lambda r, v: None if r is None else r <= 1.1),
    "blk seq-read": ("ratio >= 1.2", lambda r, v: None if r is None else r >= 1.2),
    "blk randread-qd1": ("ratio >= 1.2", lambda r, v: None if r is None else r >= 1.2),
    "blk randread-qd32": ("ratio >= 1.2", lambda r, v: None if r is None else r >= 1.2),
    "vsock host->guest": ("ratio >= 0.7", lambda r, v: None if r is None else r >= 0.7),
    "net host->guest": ("ratio >= 1.2", lambda r, v: None if r is None else r >= 1.2),
    "net VM->VM": ("ratio >= 1.2", lambda r, v: None if r is None else r >= 1.2),
    OCI_MARGIN: ("<= 1000 ms", lambda r, v: v <= 1000),
}
# The vsock part (bench/lab-bench): bench -> (metric, the result's field, unit).
# VM -> VM has no peer in QEMU (vhost-vsock joins a guest to its host only); the pump's figure is
# set against the direct channel's in the same runs: its cost.
VSOCK = {
    "vsock-h2g": ("vsock host->guest", "mb_s", "MB/s"),
    "vsock-conns": ("vsock connections host->guest", "per_s", "conn/s"),
    "vsock-v2v": ("vsock VM->VM", "mb_s", "MB/s"),
    "vsock-pump": ("vsock VM->VM pump vs direct", "mb_s", "MB/s"),
}
# The net part: the same metrics against QEMU with a userspace virtio-net ("qemu") and, under
# the suffix, with vhost-net ("qemu-vhost").
NET = {
    "net-h2g": ("net host->guest", "mb_s", "MB/s"),
    "net-rr": ("net round trip host->guest", "us", "us"),
    "net-v2v": ("net VM->VM", "mb_s", "MB/s"),
    "net-v2v-rr": ("net round trip VM->VM", "us", "us"),
}
NET_VHOST = " (vhost-net)"
UNITS = {}
# The boot figures' peers and their metrics' suffixes: qemu-rtc is QEMU microvm with its RTC, a
# second peer for boot only (bench/README.md, "Where the boot ratio comes from").
BOOT_PEERS = {"qemu": "", "qemu-rtc": " (QEMU with RTC)"}


def marks(result):
    return {m["line"]: m["ns"] for m in result.get("marks", [])}


def mark_value(result, name):
    """The number after NAME in a 'bench: NAME VALUE UNIT' line, or None."""
    for m in result.get("marks", []):
        f = m["line"].split()
        if len(f) >= 2 and f[0] == name:
            try:
                return float(f[1])
            except ValueError:
                return None
    return None


def collect(rows):
    """(lane, metric) -> vmm -> [values]"""
    data = defaultdict(lambda: defaultdict(list))

    def add(lane, metric, vmm, value, unit):
        if value is not None:
            data[(lane, metric)][vmm].append(value)
            UNITS[metric] = unit

    for row in rows:
        lane, bench, vmm = row["lane"], row["bench"], row["vmm"]
        if bench == "storm":
            results = row["results"]
            if len(results) == 8 and all(r["status"] == 0 and r["marker_ns"] for r in results):
                add(lane, "launch storm: all at init", vmm, max(r["marker_ns"] for r in results) / 1e6, "ms")
                add(lane, "launch storm: total RSS", vmm, sum(r["maxrss_kb"] for r in results) / 1024, "MiB")
            # The nested lab now and then kills a guest during its boot (bench/README.md, "Known
            # problem"), QEMU's more often: a second figure, not a target, takes every run in
            # which at least 6 of the 8 reached /init, to the last of those. A guest that died
            # early left the others more CPU, so it favours the side with more deaths.
            reached = [r["marker_ns"] for r in results if r["marker_ns"]]
            if len(results) == 8 and len(reached) >= 6:
                add(lane, "launch storm: 6 or more at init", vmm, max(reached) / 1e6, "ms")
            continue
        r = row["result"]
        if bench in OCI:
            if r["status"] == 0:
                add(lane, OCI[bench], vmm, r["exit_ns"] / 1e6, "ms")
            continue
        if bench in VSOCK:
            metric, field, unit = VSOCK[bench]
            add(lane, metric, vmm, r.get(field), unit)
            if bench == "vsock-v2v":  # the pump's peer: the direct channel
                add(lane, VSOCK["vsock-pump"][0], "direct", r.get(field), unit)
            continue
        if bench in NET:
            metric, field, unit = NET[bench]
            value = r.get(field)
            if vmm == "moat":
                add(lane, metric, "moat", value, unit)
                add(lane, metric + NET_VHOST, "moat", value, unit)
            else:
                add(lane, metric + (NET_VHOST if vmm == "qemu-vhost" else ""), "qemu", value, unit)
            continue
        if bench == "startup":
            if r:
                add(lane, "startup CPU to first KVM_RUN", vmm, r["startup_cpu_us"] / 1000, "ms")
            continue
        if r["status"] != 0 and not r.get("stopped"):  # a memory run is killed once it has its sample
            continue
        if bench == "boot":
            # moat's boots count against each peer; a peer's under its own suffix.
            who = "moat" if vmm == "moat" else "qemu"
            for suffix in BOOT_PEERS.values() if vmm == "moat" else [BOOT_PEERS[vmm]]:
                add(lane, "boot to init" + suffix, who, r["marker_ns"] / 1e6 if r["marker_ns"] else None, "ms")
                add(lane, "boot to exit" + suffix, who, r["exit_ns"] / 1e6, "ms")
            if vmm == "qemu-rtc":
                continue  # its boot figures only
        if bench in ("boot", "boot512", "blk", "memory") and r.get("overhead_rss_kb", -1) >= 0:
            mem = row.get("mem_mib", 256)
            add(lane, f"VMM overhead @{mem}M", vmm, r["overhead_rss_kb"] / 1024, "MiB")
        if bench == "blk":
            for name, unit in (("seq-read", "MB/s"), ("seq-write", "MB/s"), ("randread-qd1", "IOPS"),
                               ("randread-qd32", "IOPS")):
                add(lane, f"blk {name}", vmm, mark_value(r, name), unit)
        if bench == "exits":
            m = marks(r)
            count = row.get("exits", 200000 if lane == "local" else 20000)  # see bench/lab-bench
            for p in PHASES:
                if f"{p} start" in m and f"{p} end" in m:
                    add(lane, f"exit {p}", vmm, (m[f"{p} end"] - m[f"{p} start"]) / count, "ns/exit")
    podman, boot = data.get(("lab", OCI["oci-podman"])), data.get(("lab", "boot to exit"))
    if podman and boot and podman.get("moat") and podman.get("runc") and boot.get("moat"):
        med = statistics.median
        add("lab", OCI_MARGIN, "moat", med(podman["moat"]) - med(podman["runc"]) - med(boot["moat"]), "ms")
    return data


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


# make bench, every step of it, is to take under this long.
BUDGET_MIN = 20
FULL_RUN = {"local lane", "lab main", "lab vsock", "lab net", "lab oci", "lab storm"}


def timing(durations):
    """Prints how long each step of the run took; judges the budget only for a whole series."""
    total = sum(d["seconds"] for d in durations) / 60
    steps = ", ".join(f"{d['step']} {d['seconds']} s"
                      + (f" ({d['boots']} lab boot{'s' if d['boots'] != 1 else ''})" if "boots" in d else "")
                      for d in durations)
    whole = FULL_RUN <= {d["step"] for d in durations}
    met = total < BUDGET_MIN if whole else None
    verdict = f"under {BUDGET_MIN} min{' ok' if met else ' MISSED'}" if whole else "not a whole series: not judged"
    print(f"time: {steps}; {total:.1f} min in all ({verdict})")
    return {"durations": durations, "total_min": total, "budget_met": met}


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    durations = [r for r in rows if r["bench"] == "duration"]
    # Where the local lane ran: this host's /dev/kvm, the test lab, or nowhere (bench/run).
    local_lane = next(({"where": "skipped" if r["bench"] == "skipped" else r["where"], "why": r["why"]}
                       for r in rows if r["lane"] == "local" and r["bench"] in ("skipped", "where")),
                      {"where": "local"} if any(r["lane"] == "local" for r in rows) else None)
    data = collect([r for r in rows if r["bench"] not in ("duration", "skipped", "where")])
    out = {"figures": [], "local_lane": local_lane}
    if local_lane and local_lane["where"] == "skipped":
        print(f"local lane: SKIPPED, this host's KVM runs no VM ({local_lane['why']}); "
              "exits, startup and memory are the lab's figures below")
    elif local_lane and local_lane["where"] == "lab":
        print(f"local lane: ran inside the test lab ({local_lane['why']}): nested KVM under TCG, "
              "not this host's")
    header = f"{'lane':<5} {'metric':<32} {'unit':<8} {'moat median [min..max] n':<31} {'peer':<7} " \
             f"{'peer median [min..max] n':<31} {'ratio':>6}  target"
    print(header)
    print("-" * len(header))
    failed = 0
    for (lane, metric), by_vmm in sorted(data.items()):
        moat = by_vmm.get("moat")
        if not moat:
            continue
        peer_name = next((v for v in ("qemu", "rawkvm", "direct", "runc") if v in by_vmm), None)
        peer = by_vmm.get(peer_name) if peer_name else None
        m = summary(moat)
        p = summary(peer) if peer else None
        ratio = m["median"] / p["median"] if p and p["median"] else None
        target, check = TARGETS.get(metric, ("", None))
        met = check(ratio, m["median"]) if check else None
        if met is False:
            failed += 1
        fmt = lambda s: f"{s['median']:.1f} [{s['min']:.1f}..{s['max']:.1f}] {s['n']}" if s else "-"
        print(f"{lane:<5} {metric:<32} {UNITS[metric]:<8} {fmt(m):<31} {peer_name or '-':<7} {fmt(p):<31} "
              f"{(f'{ratio:.2f}' if ratio is not None else '-'):>6}  "
              f"{target}{'' if met is None else (' ok' if met else ' MISSED')}")
        out["figures"].append({"lane": lane, "metric": metric, "unit": UNITS[metric], "moat": m,
                               "peer": peer_name, "peer_stats": p, "ratio": ratio, "target": target,
                               "met": met})
    measured = {f["metric"] for f in out["figures"]}
    unmeasured = [t for t in TARGETS if t not in measured]
    out["not_measured"] = unmeasured
    print()
    if durations:
        out.update(timing(durations))
        failed += out["budget_met"] is False
    print(f"{len(out['figures'])} figures; {failed} targets missed")
    if unmeasured:
        print(f"targets with no figure in this run: {', '.join(unmeasured)}")
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as f:
            json.dump(out, f, indent=1)
        print(f"wrote {sys.argv[2]}")
    if len(sys.argv) > 3:
        chart(out["figures"], sys.argv[3])
    if not out["figures"]:
        sys.exit("report: no measurements")


def chart(figures, path):
    """A bar chart of moat/peer ratios (lower is better for times, higher for throughput)."""
    ratios = [f for f in figures if f["ratio"] is not None]
    if not ratios:
        return
    dat = tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False).name
    with open(dat, "w") as f:
        for i, fig in enumerate(ratios):
            label = re.sub(r"[^A-Za-z0-9@_ .:/+-]", "", f"{fig['lane']}: {fig['metric']}")
            f.write(f"{i} \"{label}\" {fig['ratio']:.3f}\n")
    script = f"""
set terminal pngcairo noenhanced size 1100,{200 + 28 * len(ratios)} font "sans,10"
set output "{path}"
set title "moat / peer (QEMU microvm or raw KVM loop), medians; 1.0 = parity"
set style fill solid 0.6
set boxwidth 0.6
set yrange [-0.5:{len(ratios) - 0.5}]
set xrange [0:*]
set ytics nomirror
set grid xtics
set arrow from 1,-0.5 to 1,{len(ratios) - 0.5} nohead dt 2
plot "{dat}" using ($3*0.5):1:($3*0.5):(0.3):yticlabels(2) with boxxyerror notitle
"""
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
        print(f"wrote {path}")
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"report: no chart ({e})", file=sys.stderr)
    finally:
        os.unlink(dat)


if __name__ == "__main__":
    main()
