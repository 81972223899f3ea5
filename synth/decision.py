"""`ifmac accuracy`: accuracy against cost, the chart a reader decides from.

Joins the golden model's accuracy on realistic data (ifmac.golden.accuracy:
quantization SQNR, the MAC's relative error at K = 4096) and, where `make
accuracy-model` left an embeddings.json beside it, on a real model end to
end (ifmac.golden.embedding), with the cost of
each MAC from the synthesis report (area.json of `make synth`; energy per
MAC where `make signoff` measured it) into decision.json, decision.md and
decision.png.

Formats are compared at their own block sizes (MX 32, the others 16), so
cost is per element pair: area / B (a B-element MAC takes B pairs a cycle)
and energy per MAC, relative to the nvfp4 MAC of the same arch. A cost the
synthesis report does not hold is "-" with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

from ifmac.golden.accuracy import DISTRIBUTIONS, measure_all
from ifmac.golden.codec import rules_for
from ifmac.golden.formats import FORMAT_NAMES
from ifmac.golden.config import ARCH_NAMES, Config, Expansion
from ifmac.golden.embedding import QDQ

from ifmac.engine import table, write_json

from .records import pair_cost, unpipelined
from .render import save_figure

__all__ = ["run", "join", "COMPARED"]
#: The formats IF4 is set against in the summary.
COMPARED = ("nvfp4", "nvint4", "mxfp4")

NO_SYNTH = "no synthesis record (run `make synth`)"
NO_ENERGY = "no energy figure (run `make signoff`)"
NO_MODEL = "no real-model run (run `make accuracy-model`)"

#: The real-model figures (ifmac.golden.embedding) a row takes from
#: embeddings.json when `make accuracy-model` wrote one.
REAL = ("cos_mean", "cos_worst", "neighbour_changes")


def _load_real(path: Path) -> dict | None:
    """embeddings.json of `ifmac accuracy --model --forward`, or None."""
    return json.loads(path.read_text()) if path.is_file() else None


def _real_key(row: dict) -> tuple:
    return row["format"], row["rule"], row["arch"], row["expansion"]


def _load_costs(area_json: Path) -> tuple[dict, str | None]:
    """{expansion: {(format, arch, B): record}} from area.json, and the cost
    metric (area in um^2 with a Liberty library, else transistors)."""
    if not area_json.is_file():
        return {}, None
    doc = json.loads(area_json.read_text())
    metric = "area_um2" if doc.get("liberty") else "transistors"
    return {e: unpipelined(doc["configurations"], e) for e in Expansion}, metric


def join(accuracy, costs: dict, metric: str | None, real: dict | None = None) -> list[dict]:
    """One row per format x rule x arch: the accuracy figures, the real
    model's (`real`: embeddings.json) where it ran that MAC, and, where the
    synthesis report has them, cost per element pair and ratios to nvfp4."""
    by_key = {_real_key(r): r for r in (real or {}).get("rows", [])}
    rows = []
    for a in accuracy:
        row = a.to_json()
        mine = by_key.get(_real_key(row), {})
        row.update({f"real_{k}": mine.get(k) for k in REAL})
        records = costs.get(a.config.expansion, {})
        cost = pair_cost(records, a.config, metric, costs.get(Expansion.SCALE, {}))
        missing = (NO_SYNTH if (a.format, a.arch, a.config.block_size) not in records else
                   NO_ENERGY if cost["energy_pj_per_mac"] is None else None)
        row.update(default_rule=a.rule == rules_for(a.format)[0], cost_metric=metric, **cost,
                   missing=missing)
        rows.append(row)
    return rows


def _num(v, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def real_rows(real: dict, costs: dict, metric: str | None) -> list[dict]:
    """embeddings.json's rows with the cost of their MAC (qdq has none)."""
    out = []
    for r in real["rows"]:
        cost = dict.fromkeys(("area_per_pair", "area_per_pair_vs_nvfp4", "energy_pj_per_mac",
                              "energy_vs_nvfp4"))
        if r["arch"] != QDQ:
            c = Config.make(r["format"], r["arch"], expansion=r["expansion"])
            cost = pair_cost(costs.get(c.expansion, {}), c, metric,
                             costs.get(Expansion.SCALE, {}))
        out.append({**r, **cost})
    return out


def _real_markdown(real: dict, rows: list[dict]) -> list[str]:
    lines = [f"## A real model end to end ({real['model']})", "",
             f"{real['sentences']} sentences ({real['tokens']:,} tokens) embedded with every "
             "linear layer's weights and activations quantized (`make accuracy-model`), "
             "against the unquantized model: the cosine of each sentence's embedding with "
             "the unquantized one, and the sentences whose nearest neighbour changed. qdq: "
             "quantize-dequantize with a float64 matmul; the others: that MAC's golden "
             "arithmetic. Cost as above (\"-\": no MAC, or no synthesis record).", ""]
    head = ["format", "rule", "arch", "expansion", "cosine mean", "cosine worst",
            "neighbour changes", "weight SQNR dB", "area/pair / nvfp4", "pJ/MAC / nvfp4"]
    lines += table(head, ([
        r["format"], r["rule"], r["arch"], r["expansion"], f"{r['cos_mean']:.5f}",
        f"{r['cos_worst']:.5f}", str(r["neighbour_changes"]), f"{r['weight_sqnr_db']:.2f}",
        _num(r["area_per_pair_vs_nvfp4"], ".3f"), _num(r["energy_vs_nvfp4"], ".3f")]
        for r in rows))
    return lines + [""]


def _markdown(rows: list[dict], metric: str | None, real: dict | None = None,
              real_costed: list[dict] | None = None) -> str:
    unit = {"area_um2": "um^2", "transistors": "transistors"}.get(metric, "")
    lines = ["# ifmac: accuracy against cost", "",
             f"Realistic data: {rows[0]['rows']} dot products of length K = {rows[0]['K']} "
             f"per format and arch ({', '.join(DISTRIBUTIONS)} activations and weights, "
             "fixed seed), quantized by the golden codec and multiplied by the golden MAC. "
             "SQNR is the quantization signal-to-noise ratio over every activation and "
             "weight element; the MAC error is |MAC result x global factors - float64 dot "
             "product of the unquantized inputs| / |float64 dot product|.",
             "",
             "Each format at its own block size (MX 32, the others 16); cost per element "
             f"pair: area ({unit}) / B and energy per MAC, relative to the nvfp4 MAC of the "
             "same arch (B = 16). \"-\": the synthesis report holds no such figure (the "
             "reason is in the last column).", ""]
    default = [r for r in rows if r["default_rule"]]
    paper = [r for r in default if r["expansion"] == "scale"]
    if "if4" in {r["format"] for r in default}:
        lines += ["## IF4 against NVFP4, NVINT4 and MXFP4", ""]
        for arch in ARCH_NAMES:
            me = next((r for r in paper if (r["format"], r["arch"]) == ("if4", arch)), None)
            for other in COMPARED:
                o = next((r for r in paper if (r["format"], r["arch"]) == (other, arch)), None)
                if not me or not o:
                    continue
                d = me["sqnr_db"] - o["sqnr_db"]
                area = (me["area_per_pair"] / o["area_per_pair"]
                        if me["area_per_pair"] and o["area_per_pair"] else None)
                energy = (me["energy_pj_per_mac"] / o["energy_pj_per_mac"]
                          if me["energy_pj_per_mac"] and o["energy_pj_per_mac"] else None)
                on_model = (f"; real model mean cosine {me['real_cos_mean']:.5f} vs "
                        f"{o['real_cos_mean']:.5f}"
                        if me["real_cos_mean"] is not None and o["real_cos_mean"] is not None
                        else "")
                lines.append(f"- {arch}: IF4 {me['sqnr_db']:.2f} dB vs {other.upper()} "
                             f"{o['sqnr_db']:.2f} dB ({d:+.2f} dB){on_model}; area per pair "
                             f"x{_num(area, '.3f')}, energy per MAC x{_num(energy, '.3f')}")
        lines.append("")
    head = ["format", "arch", "expansion", "B", "rule", "SQNR dB", "MAC rel. err. median",
            "MAC rel. err. p99", "real model cosine mean", "worst", "neighbour changes",
            f"area/pair {unit}", "area/pair / nvfp4", "pJ/MAC", "pJ/MAC / nvfp4", "missing"]
    lines += ["## Every format and arch (default rule)", "",
              "deferred: the IF formats' integer class weights (results in units of 1/d², "
              "applied here with the global factors); costs relative to the nvfp4 MAC of "
              "the same arch. Real model: the section below ("
              + ("\"-\": not among the runs of `make accuracy-model`)." if real else
                 f"\"-\": {NO_MODEL}).") + "", ""]
    lines += table(head, ([
        r["format"], r["arch"], r["expansion"], str(r["block_size"]), r["rule"],
        f"{r['sqnr_db']:.2f}",
        f"{r['rel_err_median']:.4f}", f"{r['rel_err_p99']:.3f}",
        _num(r["real_cos_mean"], ".5f"), _num(r["real_cos_worst"], ".5f"),
        _num(r["real_neighbour_changes"], "d"),
        _num(r["area_per_pair"], ",.0f"), _num(r["area_per_pair_vs_nvfp4"], ".3f"),
        _num(r["energy_pj_per_mac"], ".2f"), _num(r["energy_vs_nvfp4"], ".3f"),
        r["missing"] or ""] for r in default))
    lines.append("")
    if real:
        lines += _real_markdown(real, real_costed)
    head = ["format", "rule", "SQNR dB", *[f"{d} dB" for d in DISTRIBUTIONS],
            "fused MAC rel. err. median", "p99"]
    lines += ["## Every rule", "", "SQNR per distribution; the MAC error of the fused arch.", ""]
    lines += table(head, ([
        r["format"], r["rule"], f"{r['sqnr_db']:.2f}",
        *[f"{r['sqnr_db_by_dist'][d]:.2f}" for d in DISTRIBUTIONS],
        f"{r['rel_err_median']:.4f}", f"{r['rel_err_p99']:.3f}"] for r in rows
        if (r["arch"], r["expansion"]) == ("fused", "scale")))
    lines.append("")
    return "\n".join(lines)


def _chart(rows: list[dict], path: Path, real_costed: list[dict] | None = None) -> bool:
    """Cost against SQNR, one point per format x arch (default rule): area
    per pair and, where measured, energy per MAC, both relative to nvfp4;
    with a real-model run, its mean embedding cosine against area too."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    default = [r for r in rows if r["default_rule"] and r["expansion"] == "scale"]
    sqnr = "quantization SQNR, dB (realistic data)"
    # (points, x key, y key, x label, y label, title)
    panels = [(default, k, "sqnr_db", label, sqnr, "Accuracy")
              for k, label in (("area_per_pair_vs_nvfp4", "area per element pair"),
                               ("energy_vs_nvfp4", "energy per MAC"))]
    real = [dict(r, format=r["format"] if r["rule"] == rules_for(r["format"])[0]
                 else f"{r['format']}/{r['rule']}")
            for r in real_costed or () if r["expansion"] == "scale"]
    panels.append((real, "area_per_pair_vs_nvfp4", "cos_mean", "area per element pair",
                   "mean embedding cosine with FP32 (real model)", "Real model"))
    panels = [p for p in panels if any(r[p[1]] for r in p[0])]
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(7.5 * len(panels), 5.5), squeeze=False)
    markers = {"lane": "o", "fused": "s", "exact": "^"}
    for ax, (points, key, y, label, ylabel, title) in zip(axes[0], panels):
        for arch in ARCH_NAMES:
            pts = [r for r in points if r["arch"] == arch and r[key]]
            ax.scatter([r[key] for r in pts], [r[y] for r in pts],
                       marker=markers[arch], label=arch)
            for r in pts:
                ax.annotate(r["format"], (r[key], r[y]), fontsize=7,
                            xytext=(4, 2), textcoords="offset points")
        ax.axvline(1.0, color="black", linewidth=0.6)
        ax.set_xlabel(f"{label} / nvfp4 (same arch)")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title} against {label}")
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.grid(alpha=0.3)
        ax.legend()
    save_figure(fig, path)
    return True


def run(out_dir: Path, area_json: Path, formats=FORMAT_NAMES, rows: int = 64,
        K: int = 4096) -> list[Path]:
    """Measure (`rows` dot products per distribution), join with the
    synthesis report, write the three files."""
    costs, metric = _load_costs(area_json)
    if not costs:
        print(f"ifmac accuracy: {area_json} not found: accuracy only, cost columns '-' "
              "(run `make synth` first)", flush=True)

    def progress(a):
        print(f"  {a.format:<11} {a.rule:<9} SQNR {a.sqnr_db:6.2f} dB, MAC rel. err. median "
              f"{a.rel_err_median:.4f}, p99 {a.rel_err_p99:.3f}", flush=True)
    accuracy = measure_all(formats, rows=rows, K=K, progress=progress)
    real = _load_real(out_dir / "embeddings.json")
    rows_out = join(accuracy, costs, metric, real)
    real_costed = real_rows(real, costs, metric) if real else None
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [write_json(out_dir / "decision.json", {"cost_metric": metric,
                                                   "source": str(area_json), "rows": rows_out,
                                                   "real_model": real_costed}),
             out_dir / "decision.md"]
    paths[1].write_text(_markdown(rows_out, metric, real, real_costed))
    if _chart(rows_out, out_dir / "decision.png", real_costed):
        paths.append(out_dir / "decision.png")
    return paths
