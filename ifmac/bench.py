"""`make bench`: throughput figures measured side by side in one run.

Benchmarks, not tests: they print numbers and ratios and assert nothing.
Other subpackages add their own sections (RTL simulation speed) when they
are importable.
"""

from __future__ import annotations

import time

import numpy as np


def _best_of(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_quantize(rows: int = 2048, cols: int = 4096) -> dict:
    from ifmac.golden import quantize
    from ifmac.golden.codec import usable_cpus
    x = np.random.default_rng(0).standard_normal((rows, cols)).astype(np.float32)
    out = {}
    cpus = usable_cpus()
    print(f"quantize: {rows}x{cols} float32 tensor ({x.size / 1e6:.1f} M elements), "
          f"{cpus} CPUs, best of 3")
    for fmt, rule in (("if4", "mse"), ("nvfp4", "static_6"), ("nvfp4", "mse"), ("if6_e2m3", "mse"),
                      ("if4", "mae"), ("if3", "mse"), ("nvint4", "static_6"),
                      ("mxfp4", "static_6")):
        t = _best_of(lambda: quantize(x, fmt, rule))
        out[f"{fmt}-{rule}"] = x.size / t / 1e6
        print(f"  {fmt + '-' + rule:16s} {out[f'{fmt}-{rule}']:8.1f} M elements/s  ({t * 1e3:.0f} ms)")
    one = x.size / _best_of(lambda: quantize(x, "if4", "mse", workers=1)) / 1e6
    print(f"  if4-mse on one thread {one:.1f} M elements/s: {out['if4-mse'] / one:.2f}x on "
          f"{cpus} threads")
    print(f"  if4-mse takes {out['nvfp4-static_6'] / out['if4-mse']:.2f}x the time of nvfp4 "
          f"static_6, nvfp4 four-over-six mse {out['nvfp4-static_6'] / out['nvfp4-mse']:.2f}x "
          "(two candidates and their block errors)")
    return out


def bench_golden_mac(beats: int = 200_000) -> dict:
    from ifmac.golden import Config, mac
    from ifmac.golden.vectors import random_beats
    b = random_beats(Config.make("if4", "fused", 16), beats, seed=1)
    out = {}
    print(f"golden mac: {beats} beats of if4 at B=16 ({b.segments} segments), best of 3")
    for arch in ("lane", "fused"):
        t = _best_of(lambda: mac(Config.make("if4", arch, 16), b))
        out[arch] = beats / t
        print(f"  {arch:6s} {out[arch] / 1e6:8.2f} M beats/s  ({t * 1e3:.0f} ms)")
    print(f"  fused / lane: {out['fused'] / out['lane']:.2f}x")
    return out


def bench_fp_units(n: int = 200_000) -> dict:
    """Vectors per second through the binary32 units' Verilog in cocotb."""
    from ifmac.hdl import fp
    from ifmac.hdl.verilog import convert
    from ifmac.sim import fpvectors
    from ifmac.sim.harness import simulate
    out = {}
    print(f"FP32 units in cocotb + Verilator: {n} vectors each (build cached after first run)")
    for op, cls in (("add", fp.Float32Adder), ("mul", fp.Float32Multiplier)):
        top = f"ifmac_fp32_{op}_p0"
        a, b = fpvectors.operand_pairs(op, n, seed=7)
        expect = fpvectors.expected(op, a, b)
        run = simulate(top, convert(cls(), top), "ifmac.sim.tb_fp",
                       {"in_a": a, "in_b": b, "expect": expect}, {"IFMAC_LATENCY": 0},
                       f"bench-{op}")
        bad = int((run.got["result"] != expect).sum())
        out[op] = n / run.seconds
        print(f"  {op}: {out[op]:>10,.0f} vectors/s  ({run.seconds:.1f} s incl. simulator start, "
              f"{bad} mismatches)")
    print(f"  mul / add: {out['mul'] / out['add']:.2f}x")
    return out


def bench_backends() -> dict:
    """Beats/s of the native and cocotb backends on the same stimulus (one
    beat per cycle, observed results only: the golden model is not timed),
    after a build that is not timed either."""
    from ifmac.golden.config import Config
    from ifmac.golden.vectors import random_beats
    from ifmac.hdl.mac import MAC
    from ifmac.sim.backends import get_backend
    from ifmac.sim.mac_run import compare
    from ifmac.sim.stimulus import Stimulus, expected, schedule
    out = {}
    print("MAC simulation backends, side by side (builds cached and not timed)")
    for arch, native_beats, cocotb_beats in (("fused", 2_000_000, 20_000),
                                             ("lane", 500_000, 10_000)):
        dut = MAC(Config.make("if4", arch, 16))
        speed = {}
        for backend, n in (("verilator", native_beats), ("cocotb", cocotb_beats)):
            b = random_beats(dut.config, n, seed=1)
            stim = Stimulus(b, schedule(n, dut.latency))
            be = get_backend(backend, dut)
            info = be.build()
            t0 = time.perf_counter()
            obs = be.run(stim)
            seconds = time.perf_counter() - t0
            bad = compare(expected(dut.config, stim), obs).mismatches
            speed[backend] = n / seconds
            build = "cached" if info.cached else f"{info.seconds:.0f} s"
            print(f"  {dut.name} {backend:9s} {speed[backend]:>12,.0f} beats/s  ({n:,} beats in "
                  f"{seconds:.2f} s, build {build}, {bad} mismatches)")
        ratio = speed["verilator"] / speed["cocotb"]
        out[arch] = dict(speed, ratio=ratio)
        print(f"  {dut.name} native / cocotb: {ratio:.0f}x")
    return out


SECTIONS = [bench_quantize, bench_golden_mac, bench_backends, bench_fp_units]


def main() -> None:
    for section in SECTIONS:
        section()
        print()


if __name__ == "__main__":
    main()
