"""The MAC regression over configurations, run by `ifmac sim` (`make sim`).

Per configuration one simulation of: directed corners, every element-code
pair under every flag pair, all 65,536 scale-byte pairs, quantized
real-looking tensors, and random beats, with valid gaps and a reset in the
middle of a segment. Prints a progress line per configuration and a closing
table; exits non-zero on any mismatch.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass

from ifmac.hdl.mac import DEFAULT_CONFIGS


@dataclass
class ConfigResult:
    config: str
    beats: int
    segments: int
    mismatches: int
    beats_per_second: float
    latency: int
    build_seconds: float
    build_cached: bool
    seconds: float
    first_error: str | None
    waveform: str | None


def stimulus(fmt, block_size, random_beats: int, seed: int, sweeps: bool = True):
    from ifmac.golden.vectors import random_beats as random_beats_stream
    from . import suites
    parts = [suites.corners(fmt, block_size, seed)]
    if sweeps:
        parts += [suites.code_pairs(fmt, block_size), suites.scale_pairs(fmt, block_size)]
    parts += [suites.quantized(fmt, block_size, rows=32, seed=seed),
              random_beats_stream(fmt, block_size, random_beats, seed)]
    return suites.concat(*parts)


def run_config(fmt: str, arch: str, block_size: int, pipeline: int = 0, random_beats: int = 20000,
               seed: int = 1, sweeps: bool = True, simulator: str | None = None) -> ConfigResult:
    from ifmac.hdl.mac import MAC
    from .mac_run import check, schedule
    t0 = time.perf_counter()
    dut = MAC(fmt, arch, block_size, pipeline)
    beats = stimulus(fmt, block_size, random_beats, seed, sweeps)
    n = len(beats)
    # Gaps on a tenth of the beats; a reset in the middle of the long segments
    # (the corners suite's 1000-beat segments start after its one-beat rows).
    sched = schedule(n, dut.latency, gap=0.1, seed=seed, resets=[int(n * 0.6), int(n * 0.6) + 1])
    r = check(dut, beats, sched, name=f"regress-s{seed}", simulator=simulator)
    return ConfigResult(f"{fmt} {arch} b{block_size}" + (f" p{pipeline}" if pipeline else ""),
                        r.beats, r.segments, r.mismatches, r.beats_per_second, r.latency,
                        r.build_seconds, r.build_cached, time.perf_counter() - t0, r.first_error,
                        str(r.waveform) if r.waveform else None)


def _table(results: list[ConfigResult]) -> str:
    head = f"{'configuration':24s} {'beats':>9s} {'segments':>9s} {'mismatch':>8s} " \
           f"{'beats/s':>9s} {'latency':>7s} {'build s':>8s}"
    lines = [head, "-" * len(head)]
    for r in results:
        build = "cached" if r.build_cached else f"{r.build_seconds:.1f}"
        lines.append(f"{r.config:24s} {r.beats:9d} {r.segments:9d} {r.mismatches:8d} "
                     f"{r.beats_per_second:9.0f} {r.latency:7d} {build:>8s}")
    total_b = sum(r.beats for r in results)
    total_s = sum(r.segments for r in results)
    total_m = sum(r.mismatches for r in results)
    lines += ["-" * len(head), f"{'total':24s} {total_b:9d} {total_s:9d} {total_m:8d}"]
    return "\n".join(lines)


def regress(configs, jobs: int, random_beats: int, seed: int, simulator, json_path) -> int:
    t0 = time.perf_counter()
    print(f"ifmac sim: {len(configs)} configurations, {jobs} jobs, simulator "
          f"{simulator or os.environ.get('SIM', 'verilator')}", flush=True)
    results = []
    with ProcessPoolExecutor(jobs) as pool:
        futures = {pool.submit(run_config, f, a, b, 0, random_beats, seed, True, simulator):
                   (f, a, b) for f, a, b in configs}
        for k, fut in enumerate(as_completed(futures), 1):
            r = fut.result()
            results.append(r)
            status = "ok" if r.mismatches == 0 else f"FAIL: {r.first_error} (waveform {r.waveform})"
            build = "cached build" if r.build_cached else f"build {r.build_seconds:.0f}s"
            print(f"[{k:2d}/{len(configs)}] {r.config:22s} {r.beats:8d} beats {r.segments:7d} "
                  f"segments {r.mismatches} mismatches {r.beats_per_second:7.0f} beats/s "
                  f"({build}, {r.seconds:.0f}s) {status}", flush=True)
    order = {f"{f} {a} b{b}": i for i, (f, a, b) in enumerate(configs)}
    results.sort(key=lambda r: order.get(r.config, 0))
    print()
    print(_table(results))
    print(f"\nwall time {time.perf_counter() - t0:.0f}s")
    if json_path:
        os.makedirs(os.path.dirname(json_path) or ".", exist_ok=True)
        with open(json_path, "w") as fh:
            json.dump([asdict(r) for r in results], fh, indent=1)
    return 0 if all(r.mismatches == 0 for r in results) else 1

