"""Synthesis records: one typed `Record` per configuration, with its ratios
to the baselines, and the figures computed across records (the common
clock, energy at another clock, cost per element pair).

A record serializes (`Record.to_json`) to the keys area.json has always
had; it is found by its configuration's name (Config.name).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ifmac.golden.config import ARCHS, Config
from ifmac.golden.errors import InputError
from ifmac.golden.formats import FORMAT_NAMES, get_format
from ifmac.hdl.mac import STAGES

from .flow import METRICS, OTHER_STAGE, Figures, Result

__all__ = ["BASELINE", "MX_BASELINE", "BASELINES", "REPORT_STAGES", "SIGNOFF_METRICS",
           "Record", "twin", "report_records", "unpipelined", "common_clock", "energy_at",
           "common_clock_rows", "pair_cost", "fp_baseline"]

BASELINE = "nvfp4"
#: The second reference every record has a ratio to: the OCP MX 4-bit format.
MX_BASELINE = "mxfp4"
BASELINES = (BASELINE, MX_BASELINE)

REPORT_STAGES = (*STAGES, OTHER_STAGE)

#: Signoff metrics with ratios: OpenSTA's fmax, energy per MAC on the
#: realistic data.
SIGNOFF_METRICS = ("fmax_mhz", "energy_pj_per_mac")


def fp_baseline(fmt: str) -> str | None:
    """The FP-only format the registry names as `fmt`'s cost baseline
    (if3 -> nvfp3), or None."""
    return get_format(fmt).cost_baseline


def _ratio(x, y):
    if x is None or y is None or y == 0:
        return None
    return round(x / y, 4)


def _metric(r: Result, m: str):
    if m == "fmax_mhz":
        return r.timing["fmax_mhz"] if r.timing else None
    if m == "energy_pj_per_mac":
        return r.power[0]["energy_pj_per_mac"] if r.power else None
    return getattr(r.total, m)


def _ratios(r: Result, base: Result | None) -> dict:
    return {m: None if base is None else _ratio(_metric(r, m), _metric(base, m))
            for m in (*METRICS, *SIGNOFF_METRICS)}


def _stage_sum(r: Result, metric: str):
    values = [getattr(r.stages[s], metric) for s in REPORT_STAGES]
    if any(v is None for v in values):
        return None
    return round(sum(values), 2) if isinstance(values[0], float) else sum(values)


def twin(config: Config, **changes) -> Config | None:
    """`config` with other parameters, None where it has no such twin (a cut
    the other arch does not have, an MX format in the exact arch)."""
    try:
        return config.replace(**changes)
    except InputError:
        return None


def _twin(config: Config, **changes) -> str | None:
    """The name of `twin`, or None."""
    other = twin(config, **changes)
    return other and other.name


@dataclass
class Record:
    """One configuration's line of area.json: its synthesis and signoff
    figures and its ratios to the baselines of the same shape."""
    config: Config
    total: Figures
    stages: dict[str, Figures]
    timing: dict | None
    gls: dict | None
    power: list[dict] | None
    stage_sum: dict
    ratio_to_nvfp4: dict
    ratio_to_mxfp4: dict
    fp_baseline: str | None
    ratio_to_fp_baseline: dict | None
    ratio_fused_to_lane: dict | None
    #: The exact arch and the deferred expansion: ratios to the same
    #: format's fused MAC with the paper's expansion.
    ratio_to_fused: dict | None

    def to_json(self) -> dict:
        c = self.config
        return {"format": c.format.name, "arch": c.arch, "block_size": c.block_size,
                "top": c.name, "total": asdict(self.total),
                "stages": {s: asdict(f) for s, f in self.stages.items()},
                "timing": self.timing, "gls": self.gls, "power": self.power,
                "pipeline": c.pipeline, "interleave": c.interleave, "latency": c.latency,
                "stage_sum": self.stage_sum, "ratio_to_nvfp4": self.ratio_to_nvfp4,
                "ratio_to_mxfp4": self.ratio_to_mxfp4, "fp_baseline": self.fp_baseline,
                "ratio_to_fp_baseline": self.ratio_to_fp_baseline,
                "ratio_fused_to_lane": self.ratio_fused_to_lane,
                "ratio_to_fused": self.ratio_to_fused, "expansion": c.expansion}


def report_records(results: list[Result]) -> list[Record]:
    """Records in report order (block size, lane to fused, shallower
    pipelines first, registry order), with the ratios."""
    by_name = {r.config.name: r for r in results}
    order = {name: i for i, name in enumerate(FORMAT_NAMES)}
    records = []
    for r in sorted(results, key=lambda r: (r.config.block_size, -r.config.groups,
                                            r.config.latency, r.config.pipeline,
                                            r.config.interleave, order[r.config.format.name])):
        c = r.config
        base = {b: by_name.get(_twin(c, fmt=b)) for b in BASELINES}
        own = fp_baseline(c.format.name)
        ends = [by_name.get(_twin(c, arch=a)) for a in ARCHS]
        records.append(Record(
            c, r.total, r.stages, r.timing, r.gls, r.power,
            stage_sum={m: _stage_sum(r, m) for m in METRICS
                       if m not in ("logic_depth", "delay_ps")},
            ratio_to_nvfp4=_ratios(r, base[BASELINE]),
            ratio_to_mxfp4=_ratios(r, base[MX_BASELINE]),
            fp_baseline=own,
            ratio_to_fp_baseline=_ratios(r, by_name.get(_twin(c, fmt=own))) if own else None,
            ratio_fused_to_lane=(None if None in ends or c.exact
                                 or c.group not in (1, c.block_size)
                                 else _ratios(ends[1], ends[0])),
            ratio_to_fused=(_ratios(r, by_name.get(_twin(c, arch="fused", expansion="scale")))
                            if c.exact or c.expansion != "scale" else None)))
    return records


def unpipelined(records: list[dict], expansion: str = "scale") -> dict:
    """{(format, arch, block size): record} of the area.json records without
    optional cuts or interleave, with this expansion (by default the
    paper's): what the area tables compare."""
    return {(r["format"], r["arch"], r["block_size"]): r for r in records
            if (r["pipeline"], r["interleave"], r.get("expansion", "scale")) == ("0", 1, expansion)}


def common_clock(records: list[dict]) -> float | None:
    """The shortest clock period (ns, rounded up to 0.1) that every record's
    OpenSTA timing meets; None when a record has no timing."""
    if not records or any(not r["timing"] for r in records):
        return None
    return math.ceil(max(1000 / r["timing"]["fmax_mhz"] for r in records) * 10 - 1e-9) / 10


def energy_at(rec: dict, clock_ns: float) -> float | None:
    """Energy per MAC (realistic data) at another clock: the switching and
    internal energy per beat is the gate-level run's, the leakage energy
    grows with the period (leakage power x cycles x period)."""
    if not rec["power"]:
        return None
    p = rec["power"][0]
    leak_pj = p["leakage_mw"] * (clock_ns - p["clock_ns"]) * p["cycles"]
    return p["energy_pj_per_mac"] + leak_pj / (p["beats"] * rec["block_size"])


def common_clock_rows(records: list[Record], clock_ns: float, main: str) -> list[dict]:
    """Per record at `clock_ns`: latency in cycles and ns, area (per element
    pair), energy per MAC, and both relative to the nvfp4 MAC of the same
    group, block size and pipeline."""
    by_name = {rec.config.name: rec.to_json() for rec in records}
    rows = []
    for rec in records:
        r = by_name[rec.config.name]
        base = by_name.get(_twin(rec.config, fmt=BASELINE))
        energy = energy_at(r, clock_ns)
        base_energy = energy_at(base, clock_ns) if base else None
        rows.append({
            "configuration": r["top"], "format": r["format"], "block_size": r["block_size"],
            "group": rec.config.group, "pipeline": r["pipeline"],
            "interleave": r["interleave"], "latency_cycles": r["latency"],
            "latency_ns": round(r["latency"] * clock_ns, 1), "fmax_mhz": r["timing"]["fmax_mhz"],
            main: r["total"][main], "per_pair": r["total"][main] / r["block_size"],
            f"{main}_vs_nvfp4": r["ratio_to_nvfp4"][main],
            "energy_pj_per_mac": None if energy is None else round(energy, 4),
            "energy_vs_nvfp4": _ratio(energy, base_energy)})
    return rows


def pair_cost(by_key: dict, config: Config, metric: str | None,
              baselines: dict | None = None) -> dict:
    """Cost per element pair of `config`'s record in `by_key` ({(format,
    arch, B): area.json record}, `unpipelined`): `metric` / B (a B-element
    MAC takes B pairs a cycle) and energy per MAC, each also relative to the
    nvfp4 MAC (B = 16) of the same arch, found in `baselines` (default
    `by_key`: a deferred expansion's records have no nvfp4 among them);
    None where a figure is missing."""
    arch = config.arch
    def own(rec):
        area = rec["total"][metric] / rec["block_size"] if rec and metric \
            and rec["total"][metric] else None
        energy = rec["power"][0]["energy_pj_per_mac"] if rec and rec.get("power") else None
        return area, energy
    area, energy = own(by_key.get((config.format.name, arch, config.block_size)))
    base_area, base_energy = own((by_key if baselines is None else baselines).get(
        (BASELINE, arch, get_format(BASELINE).block_size)))
    return {"area_per_pair": area,
            "area_per_pair_vs_nvfp4": area / base_area if area and base_area else None,
            "energy_pj_per_mac": energy,
            "energy_vs_nvfp4": energy / base_energy if energy and base_energy else None}


