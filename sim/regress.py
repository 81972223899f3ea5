"""The MAC regression over configurations, run by `ifmac sim` (`make sim`).

Per configuration, a stream of stimulus chunks on one backend (the native
Verilator one by default):

* directed: corners, every element-code pair under every flag pair, all
  65,536 scale-byte pairs, short quantized dot products;
* long segments: dot products of length K = 4096 (K/B beats a segment) of
  quantized normal, Laplace, Student-t and outlier-heavy tensors;
* random beats (segments of 1 to 400 beats, every flag pair, corner codes
  and scales) up to the configuration's beat count.

Every chunk has valid gaps on a tenth of its beats and a reset in the
middle of a segment. Results are checked in values, status and cycles.

Scale-out: the work is a list of units (configuration, part); `--shard K/N`
runs every N-th unit from the K-th, so N shards are disjoint and together
complete. Each run writes a JSON summary (and with --junit a JUnit XML
file); `merge` combines shard summaries into one table.
"""

from __future__ import annotations

import json
import math
import os
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from functools import partial
from typing import Iterator

from ifmac.engine import progress_prefix, run_units, write_json
from ifmac.golden.config import Config
from ifmac.golden.errors import InputError
from ifmac.golden.formats import FORMAT_NAMES, get_format
from ifmac.hdl.mac import DEFAULT_CONFIGS

#: The design space between lane and fused, for if4 and nvfp4 at B = 16:
#: the other group sizes, and pipelines with register cuts (by name, by
#: count, all of them) and interleaved accumulation.
DESIGN_SPACE_CONFIGS = [Config.make(f, a, 16, p, k) for f in ("if4", "nvfp4") for a, p, k in (
    ("g2", 0, 1), ("g4", 0, 1), ("g8", 0, 1), ("lane", "max", 1),
    ("lane", "product,tree:2", 2), ("g4", "max", 2), ("fused", 2, 4))]

#: The IF formats' deferred expansion (integer class weights): every IF
#: format at B = 16, lane and fused, and if4 at 8 and 32.
DEFERRED_CONFIGS = [Config.make(f, a, b, expansion="deferred")
                    for f, b in [(f, 16) for f in ("if4", "if3", "if6_e2m3", "if6_e3m2")]
                    + [("if4", 8), ("if4", 32)] for a in ("lane", "fused")]

#: The exact arch: every E4M3-scaled format at B = 16, if4 and nvfp4 at 8
#: and 32, and the IF formats' deferred expansion at 16.
EXACT_CONFIGS = ([Config.make(f, "exact", 16) for f in FORMAT_NAMES
                  if not get_format(f).scale.power_of_two]
                 + [Config.make(f, "exact", b) for f in ("if4", "nvfp4") for b in (8, 32)]
                 + [Config.make(f, "exact", 16, expansion="deferred")
                    for f in FORMAT_NAMES if get_format(f).adaptive])

#: What `make sim` runs: the default configurations, the family, the
#: deferred expansion and the exact arch.
SIM_CONFIGS = DEFAULT_CONFIGS + DESIGN_SPACE_CONFIGS + DEFERRED_CONFIGS + EXACT_CONFIGS

#: Beats per configuration of `make sim`: 83 configurations x 1.66 M =
#: 137.8 M beats (the 138 M that 52 configurations took before the deferred
#: expansion and the exact arch joined, so that make sim keeps its time).
DEFAULT_BEATS = 1_660_000

#: Beats per random chunk: the unit of golden/simulation overlap and of
#: memory (a few chunks in flight).
CHUNK_BEATS = 250_000

#: Share of a configuration's beats spent on K = 4096 dot products.
LONG_SHARE = 0.1
LONG_K = 4096


@dataclass
class UnitResult:
    """One unit's record: `config` is the configuration's name (Config.name)."""
    config: str
    part: int
    parts: int
    beats: int
    segments: int
    mismatches: int
    beats_per_second: float
    latency: int
    build_seconds: float
    build_cached: bool
    seconds: float
    backend: str
    first_error: str | None
    waveform: str | None


# --------------------------------------------------------------------------
# Stimulus plan
# --------------------------------------------------------------------------

def _play(beats, latency: int, seed: int):
    """A chunk's schedule: gaps on a tenth of the beats, a reset in two
    cycles at 60 % (inside a segment unless the chunk is all one-beat ones)."""
    from .stimulus import Stimulus, schedule
    n = len(beats)
    resets = [int(n * 0.6), int(n * 0.6) + 1] if n >= 10 else []
    return Stimulus(beats, schedule(n, latency, gap=0.1, seed=seed, resets=resets))


def stimuli(config: Config, beats: int, seed: int, sweeps: bool = True,
            part: int = 0, parts: int = 1) -> Iterator:
    """The chunks of one configuration's regression (of part `part` of
    `parts`: directed suites in part 0, the other chunks round-robin)."""
    from ifmac.golden.vectors import random_beats
    from . import suites
    count = 0
    k = 0

    def mine() -> bool:
        nonlocal k
        k += 1
        return (k - 1) % parts == part

    latency, block_size = config.latency, config.block_size
    directed = [suites.corners(config, seed)]
    if sweeps:
        directed += [suites.code_pairs(config), suites.scale_pairs(config)]
    directed.append(suites.quantized(config, rows=32, seed=seed))
    if config.exact:
        directed.append(suites.exact_limits(config, seed))
    chunk = suites.concat(*directed)
    count += len(chunk)
    if part == 0:
        yield _play(chunk, latency, seed)
    long_target = int(beats * LONG_SHARE)
    long_seed = seed * 1000
    k_blocks = LONG_K // block_size
    while long_target > 0 and count < beats:
        rows = max(1, min(64, (long_target + 4 * k_blocks - 1) // (4 * k_blocks)))
        long_seed += 1
        if mine():
            chunk = suites.quantized(config, rows=rows, k_blocks=k_blocks, seed=long_seed)
            yield _play(chunk, latency, long_seed)
        got = 4 * rows * k_blocks
        count += got
        long_target -= got
    rand_seed = seed * 1000 + 500
    while count < beats:
        n = min(CHUNK_BEATS, beats - count)
        rand_seed += 1
        if mine():
            yield _play(random_beats(config, n, rand_seed), latency, rand_seed)
        count += n


def run_unit(config: Config, beats: int = DEFAULT_BEATS, seed: int = 1,
             sweeps: bool = True, backend: str | None = None, part: int = 0,
             parts: int = 1) -> UnitResult:
    from ifmac.hdl.mac import MAC
    from .mac_run import check_stream
    t0 = time.perf_counter()
    dut = MAC(config)
    r = check_stream(dut, stimuli(config, beats, seed, sweeps, part, parts),
                     name=f"regress-s{seed}-p{part}", backend=backend)
    return UnitResult(config.name, part, parts, r.beats, r.segments, r.mismatches,
                      r.beats_per_second, r.latency, r.build_seconds, r.build_cached,
                      time.perf_counter() - t0, r.backend, r.first_error,
                      str(r.waveform) if r.waveform else None)


# --------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------

@dataclass
class ConfigSummary:
    config: str
    beats: int
    segments: int
    mismatches: int
    beats_per_second: float
    latency: int
    build_seconds: float
    seconds: float
    parts_seen: int
    parts: int
    first_error: str | None


def summarize(units: list[UnitResult], order: list[str] | None = None) -> list[ConfigSummary]:
    """One row per configuration: units of the same configuration added up."""
    rows: dict[str, ConfigSummary] = {}
    for u in units:
        r = rows.get(u.config)
        sim_s = u.beats / u.beats_per_second if u.beats_per_second else 0.0
        if r is None:
            rows[u.config] = ConfigSummary(u.config, u.beats, u.segments, u.mismatches, sim_s,
                                           u.latency, u.build_seconds, u.seconds, 1, u.parts,
                                           u.first_error)
            continue
        r.beats += u.beats
        r.segments += u.segments
        r.mismatches += u.mismatches
        r.beats_per_second += sim_s            # seconds until the division below
        r.build_seconds = max(r.build_seconds, u.build_seconds)
        r.seconds += u.seconds
        r.parts_seen += 1
        r.first_error = r.first_error or u.first_error
    for r in rows.values():
        r.beats_per_second = r.beats / r.beats_per_second if r.beats_per_second else 0.0
    keys = order or list(rows)
    return [rows[k] for k in keys if k in rows] + [r for k, r in rows.items() if k not in keys]


def table(rows: list[ConfigSummary]) -> str:
    w = max([len("configuration")] + [len(r.config) for r in rows])
    head = (f"{'configuration':{w}s} {'beats':>11s} {'segments':>10s} {'mismatch':>8s} "
            f"{'beats/s':>10s} {'latency':>7s} {'build s':>7s} {'parts':>5s}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.config:{w}s} {r.beats:11,d} {r.segments:10,d} {r.mismatches:8d} "
                     f"{r.beats_per_second:10,.0f} {r.latency:7d} {r.build_seconds:7.1f} "
                     f"{r.parts_seen:>2d}/{r.parts:<2d}")
    lines += ["-" * len(head),
              f"{'total':{w}s} {sum(r.beats for r in rows):11,d} "
              f"{sum(r.segments for r in rows):10,d} {sum(r.mismatches for r in rows):8d}"]
    return "\n".join(lines)


def write_junit(path: str, units: list[UnitResult], seconds: float) -> None:
    """JUnit XML: one test case per unit, a <failure> where it mismatched."""
    fails = sum(1 for u in units if u.mismatches)
    suite = ET.Element("testsuite", name="ifmac sim", tests=str(len(units)),
                       failures=str(fails), errors="0", time=f"{seconds:.1f}")
    for u in units:
        case = ET.SubElement(suite, "testcase", classname=f"ifmac.sim.{u.backend}",
                             name=f"{u.config} part {u.part + 1}/{u.parts}",
                             time=f"{u.seconds:.1f}")
        ET.SubElement(case, "system-out").text = (
            f"{u.beats} beats, {u.segments} segments, {u.mismatches} mismatches, "
            f"{u.beats_per_second:.0f} beats/s")
        if u.mismatches:
            ET.SubElement(case, "failure", message=f"{u.mismatches} mismatches").text = \
                f"{u.first_error}\nwaveform: {u.waveform}"
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    root = ET.Element("testsuites", name="ifmac", tests=str(len(units)), failures=str(fails))
    root.append(suite)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


#: What each field of a summary's unit must be: a type, and a check.
_UNIT_FIELDS = {
    "config": (str, lambda v: bool(v)), "part": (int, lambda v: v >= 0),
    "parts": (int, lambda v: v >= 1), "beats": (int, lambda v: v >= 1),
    "segments": (int, lambda v: v >= 0), "mismatches": (int, lambda v: v >= 0),
    "beats_per_second": ((int, float), lambda v: v >= 0), "latency": (int, lambda v: v >= 1),
    "build_seconds": ((int, float), lambda v: v >= 0), "build_cached": (bool, None),
    "seconds": ((int, float), lambda v: v >= 0), "backend": (str, None),
    "first_error": ((str, type(None)), None), "waveform": ((str, type(None)), None),
}


def _unit(path: str, k: int, u) -> UnitResult:
    """A summary's unit, every field checked (a unit that ran no beats, a
    part outside its parts or a count that is not a non-negative integer
    is an error, not a row of the table)."""
    if not isinstance(u, dict) or set(u) != set(_UNIT_FIELDS):
        raise InputError(f"{path}: unit {k} has keys {sorted(u) if isinstance(u, dict) else u!r}"
                         f"; expected {', '.join(_UNIT_FIELDS)}")
    for name, (kind, ok) in _UNIT_FIELDS.items():
        v = u[name]
        if not isinstance(v, kind) or (isinstance(v, bool) and kind is not bool):
            names = " or ".join(t.__name__ for t in (kind if isinstance(kind, tuple) else (kind,)))
            why = f"a value of type {names}"
        elif ok is not None and not ok(v):
            why = "a positive count" if name in ("beats", "parts", "latency") else \
                "a non-negative number"
        else:
            continue
        raise InputError(f"{path}: unit {k} ({u.get('config')!r}) has {name} = {v!r}; "
                         f"expected {why}")
    if u["part"] >= u["parts"]:
        raise InputError(f"{path}: unit {k} ({u['config']}) is part {u['part'] + 1} of "
                         f"{u['parts']}; expected a part from 1 to {u['parts']}")
    return UnitResult(**u)


def _shard_of(path: str, meta) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in meta["shard"].split("/"))
    except (KeyError, TypeError, AttributeError, ValueError):
        raise InputError(f"{path}: meta.shard is {meta.get('shard') if isinstance(meta, dict) else meta!r}; "
                         "expected K/N") from None
    if not 1 <= k <= n:
        raise InputError(f"{path}: shard {k}/{n}; expected K/N with 1 <= K <= N")
    return k, n


def load_summary(path: str) -> tuple[dict, list[UnitResult]]:
    """A summary that `ifmac sim` wrote: its meta and its checked units."""
    try:
        with open(path) as fh:
            data = json.load(fh)
        meta, units = data["meta"], data["units"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{path!r} is not an `ifmac sim` summary: {e}") from None
    if not isinstance(meta, dict) or not isinstance(units, list):
        raise InputError(f"{path!r} is not an `ifmac sim` summary: meta or units malformed")
    _shard_of(path, meta)
    return meta, [_unit(path, k, u) for k, u in enumerate(units)]


#: What every shard of one run has in common.
_PLAN_KEYS = ("beats_per_config", "seed", "backend")


# --------------------------------------------------------------------------
# Running and merging
# --------------------------------------------------------------------------

def units_of(configs, parts: int) -> list[tuple]:
    return [(c, p) for c in configs for p in range(parts)]


def _run(unit: tuple, **options) -> UnitResult:
    config, part = unit
    return run_unit(config, part=part, **options)


def _progress(k: int, n: int, r: UnitResult) -> str:
    status = "ok" if r.mismatches == 0 else f"FAIL: {r.first_error} (waveform {r.waveform})"
    build = "cached build" if r.build_cached else f"build {r.build_seconds:.0f}s"
    label = r.config + (f" [{r.part + 1}/{r.parts}]" if r.parts > 1 else "")
    return (f"{progress_prefix(k, n)} {label:44s} {r.beats:11,d} beats {r.segments:10,d} "
            f"segments {r.mismatches} mismatches {r.beats_per_second:9,.0f} beats/s "
            f"({build}, {r.seconds:.0f}s) {status}")


def regress(configs, jobs: int, beats: int, seed: int, backend: str | None,
            summary_path: str, shard: tuple[int, int] = (1, 1), junit: str | None = None,
            sweeps: bool = True) -> int:
    k, n = shard
    parts = max(1, math.ceil(n / len(configs)))
    units = units_of(configs, parts)[k - 1::n]
    t0 = time.perf_counter()
    total = len(units)
    print(f"ifmac sim: {len(configs)} configurations, {beats:,} beats each or more (the "
          "directed suites, 21-87 k beats a configuration, always run in full)"
          + (f", shard {k}/{n}: {total} units" if n > 1 else "")
          + f", {jobs} jobs, backend {backend or 'verilator'}", flush=True)
    work = partial(_run, beats=beats, seed=seed, sweeps=sweeps, backend=backend, parts=parts)
    results: list[UnitResult] = run_units(work, units, jobs, _progress)
    seconds = time.perf_counter() - t0
    order = [c.name for c in configs]
    rows = summarize(results, order)
    print()
    print(table(rows))
    peak = _peak_rss_mib()
    print(f"\nwall time {seconds:.0f}s; peak memory {peak:.0f} MiB (largest process)")
    meta = {"shard": f"{k}/{n}", "beats_per_config": beats, "seed": seed,
            "backend": backend or "verilator", "seconds": round(seconds, 1),
            "peak_rss_mib": round(peak)}
    write_json(summary_path, {"meta": meta, "units": [asdict(u) for u in results]})
    if junit:
        write_junit(junit, results, seconds)
    return 0 if all(r.mismatches == 0 for r in results) else 1


def merge(paths: list[str], junit: str | None = None) -> int:
    """Combine shard summaries into one table; non-zero exit on any
    mismatch or on a configuration whose parts are not all there."""
    units: list[UnitResult] = []
    plan, shards = None, {}
    for p in paths:
        meta, mine = load_summary(p)
        k, n = _shard_of(p, meta)
        this = {"shards": n} | {key: meta.get(key) for key in _PLAN_KEYS}
        if plan is None:
            plan, first = this, p
        elif this != plan:
            diff = next(key for key in this if this[key] != plan[key])
            raise InputError(f"{p} and {first} are shards of different runs: {diff} "
                             f"{this[diff]!r} against {plan[diff]!r}")
        if k in shards:
            raise InputError(f"{p} and {shards[k]} are both shard {k}/{n}")
        shards[k] = p
        units += mine
    seen = {(u.config, u.part) for u in units}
    if len(seen) != len(units):
        raise InputError("the summaries overlap: the same configuration part appears twice")
    parts = {}
    for u in units:
        if parts.setdefault(u.config, u.parts) != u.parts:
            raise InputError(f"{u.config} is split into {parts[u.config]} parts in one summary "
                             f"and {u.parts} in another")
    rows = summarize(units)
    print(table(rows))
    missing = sorted(set(range(1, plan["shards"] + 1)) - set(shards))
    if missing:
        print(f"incomplete: shard {', '.join(map(str, missing))} of {plan['shards']} missing")
    incomplete = [r.config for r in rows if r.parts_seen != r.parts]
    if incomplete:
        print(f"incomplete: {', '.join(incomplete)} (a shard summary is missing)")
    if junit:
        write_junit(junit, units, sum(u.seconds for u in units))
    complete = not incomplete and not missing
    return 0 if complete and all(r.mismatches == 0 for r in rows) else 1


def _peak_rss_mib() -> float:
    """Largest resident set of this process and its finished children."""
    import resource
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024.0


__all__ = ["run_unit", "regress", "merge", "stimuli", "UnitResult", "DEFAULT_BEATS",
           "DEFAULT_CONFIGS", "SIM_CONFIGS", "DESIGN_SPACE_CONFIGS", "DEFERRED_CONFIGS",
           "EXACT_CONFIGS"]
