"""Simulation backends: one interface, four simulators.

A backend runs one MAC configuration on `Stimulus` chunks and returns what
the outputs showed (`Results`: result, status, cycle). Comparison with the
golden and cycle models is not a backend's business: ifmac.sim.mac_run does
it, the same for all of them.

    verilator  the native backend (default): Verilator model + C++ harness,
               no Python per cycle; chunks stream through one process.
    cocotb     cocotb on a Verilator build: directed tests, waveforms.
    icarus     the exported self-checking testbench under iverilog/vvp.
    amaranth   Amaranth's own simulator on the elaborated design, independent
               of the Verilog backend (small runs: about 300 beats/s fused,
               25-45 lane).

`backend.session()` gives `submit(stim)` / `result() -> Results`, in
order; only the native backend overlaps them, the others run at `result`.
`backend.waveform(stim, stop, name)` replays a stimulus up to cycle `stop`
with tracing and returns the waveform's path.
"""

from __future__ import annotations

import collections
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ifmac.golden.errors import InputError
from ifmac.hdl.mac import MAC
from ifmac.hdl.verilog import convert
from ifmac.tools import icarus_available

from . import native, runner
from .stimulus import (FLAG_LAST, FLAG_RESET, FLAG_VALID, Results, Schedule, Stimulus,
                       cycle_records, records_as_ints)

__all__ = ["BACKENDS", "BuildInfo", "get_backend", "DEFAULT_BACKEND"]

DEFAULT_BACKEND = "verilator"


@dataclass(frozen=True)
class BuildInfo:
    seconds: float
    cached: bool


class _Batch:
    """A session for backends that simulate a stimulus at once."""

    def __init__(self, run):
        self._run = run
        self._pending: collections.deque = collections.deque()

    def submit(self, stim: Stimulus) -> None:
        self._pending.append(stim)

    def result(self) -> Results:
        return self._run(self._pending.popleft())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


class Backend:
    name = ""

    def __init__(self, dut: MAC):
        self.dut = dut
        self._verilog = None

    @property
    def verilog(self) -> str:
        if self._verilog is None:
            self._verilog = convert(self.dut, self.dut.name, self.dut.header())
        return self._verilog

    def build(self) -> BuildInfo:
        return BuildInfo(0.0, True)

    def session(self):
        return _Batch(self.run)

    def run(self, stim: Stimulus) -> Results:
        with self.session() as s:
            s.submit(stim)
            return s.result()

    def waveform(self, stim: Stimulus, stop: int, name: str) -> Path | None:
        return None

    def _dir(self, name: str) -> Path:
        d = runner.build_root() / f"{self.dut.name}-{self.name}" / name
        d.mkdir(parents=True, exist_ok=True)
        return d


class VerilatorBackend(Backend):
    name = "verilator"
    #: Verilator warnings waived on top of hdl.verilog.LINT_WAIVERS.
    waivers: tuple[str, ...] = ()
    #: g++ optimization of the model (None: native.CXX_OPT on the hot code).
    cxx_opt: str | None = None

    def _build(self, trace: str = "") -> native.NativeBuild:
        return native.build(self.dut.name, self.verilog,
                            self.dut.block_size * self.dut.fmt.bits, len(self.dut.status),
                            trace=trace, waivers=self.waivers, cxx_opt=self.cxx_opt)

    def build(self) -> BuildInfo:
        b = self._build()
        return BuildInfo(b.seconds, b.cached)

    def session(self):
        return _NativeSession(native.Session(self._build()))

    def waveform(self, stim, stop, name):
        b = self._build(trace="vcd")
        vcd = self._dir(name) / f"{self.dut.name}.vcd"
        # Replay the chunk up to just past `stop` (one more cycle: the
        # harness's input registers delay the MAC by one); dump the last
        # 1000 cycles.
        short = _truncate(stim, stop + 2)
        with native.Session(b, vcd=vcd, dump_from=max(0, stop - 1000)) as s:
            s.submit(short)
            s.result()
        return vcd


class _NativeSession:
    def __init__(self, session: native.Session):
        self._s = session

    def submit(self, stim):
        self._s.submit(stim)

    def result(self) -> Results:
        r = self._s.result()
        return Results.from_arrays(r["cycle"], r["result"], r["status"])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._s.__exit__(*exc)


#: The flip-flop that replaces the cell models' sequential UDP `udp_dff`
#: (out, in, clk, clr, set, notifier) for Verilator: the UDP's table with
#: its set and clear, written with nonblocking assignments.
_UDP_DFF_MODULE = """
module ifmac_udp_dff(output reg out, input in, input clk, input clr, input set,
                     input notifier);
  always @(posedge clk or posedge clr or posedge set)
    if (set) out <= 1'b1;
    else if (clr) out <= 1'b0;
    else out <= in;
endmodule
"""
_UDP_DFF_USE = re.compile(r"(?<!primitive )\budp_dff\s*\(")


def verilator_cell_models(text: str) -> str:
    """Cell models as Verilator needs them: each instance of the sequential
    UDP `udp_dff` becomes an `ifmac_udp_dff` module instance. Verilator
    evaluates a sequential UDP with blocking assignments, and on the OSU
    0.18 models that gave wrong results (21,197 mismatching segments of
    100,000 beats on the nvfp3 fused b8 netlist, which passes with this
    flop and with the Liberty's own functions)."""
    text, n = _UDP_DFF_USE.subn("ifmac_udp_dff u_udp_dff (", text)
    return text + (_UDP_DFF_MODULE if n else "")


class GateLevelBackend(VerilatorBackend):
    """The native backend on a synthesized netlist instead of the RTL: the
    Liberty-mapped Verilog of `dut`'s top module, compiled with the library's
    own cell models (gate-level simulation; their flip-flop UDP rewritten by
    verilator_cell_models). Not in BACKENDS: it needs the two files, which
    ifmac.synth.signoff passes."""
    name = "gate"
    #: What the cell models (osu018_stdcells.v) bring: min:typ:max delays
    #: and specify blocks (Verilator uses neither: zero-delay simulation),
    #: implicit nets, a `timescale on the cells only, unused UDPs (the
    #: latches'); and, in traced builds, UNOPTFLAT: a bus net whose bits feed
    #: each other through gates looks circular to Verilator, which then
    #: evaluates it bit by bit.
    waivers = ("MINTYPMAXDLY", "SPECIFYIGN", "IMPLICIT", "TIMESCALEMOD", "BLKSEQ",
               "PINCONNECTEMPTY", "UNDRIVEN", "UNOPTFLAT")
    #: A netlist's model is large and simulated for few beats: g++ -O0. On
    #: the nvfp3 fused b8 netlist the traced build took 49 s at -O0 and 62 s
    #: at -O1; the if4 lane b16 netlist (150 k cells) builds and checks 71 k
    #: beats in 7 minutes at -O0, where -O3 had not finished compiling after 14.
    cxx_opt = "-O0"

    def __init__(self, dut: MAC, netlist: Path, cell_models: Path):
        super().__init__(dut)
        # Nets of the netlist are traced, not the insides of the cells (a cell's
        # output toggles as its net does): that tripled the traced build time.
        self._verilog = (Path(netlist).read_text() + "\n// verilator tracing_off\n"
                         + verilator_cell_models(Path(cell_models).read_text()))

    def _build(self, trace: str = "") -> native.NativeBuild:
        # One build for the check and the power runs (ifmac.synth.signoff):
        # a SAIF build that is given no SAIF file traces nothing.
        return super()._build(trace or "saif")


def _truncate(stim: Stimulus, cycles: int) -> Stimulus:
    """The first `cycles` cycles of `stim` (beats presented in them only)."""
    from ifmac.golden.vectors import Beats
    cycles = min(cycles, stim.cycles)
    n = int(np.count_nonzero(stim.sched.valid[:cycles]))
    beats = Beats(stim.config, *(x[:n] for x in stim.beats.arrays()), seed=stim.beats.seed)
    return Stimulus(beats, Schedule(stim.sched.valid[:cycles], stim.sched.reset[:cycles]))


class CocotbBackend(Backend):
    """cocotb + Verilator (or Icarus with IFMAC_COCOTB_SIM=icarus)."""
    name = "cocotb"

    def __init__(self, dut, simulator: str | None = None):
        super().__init__(dut)
        self.simulator = simulator or runner.default_simulator()

    def build(self) -> BuildInfo:
        b = runner.build(self.dut.name, self.verilog, self.simulator)
        return BuildInfo(b.seconds, b.cached)

    def _simulate(self, stim, name, waves=False, stop=None) -> tuple[Results, runner.Build]:
        b = runner.build(self.dut.name, self.verilog, self.simulator, waves=waves)
        run_dir = b.directory / f"run-{name}"
        run_dir.mkdir(parents=True, exist_ok=True)
        vec, out = run_dir / "vectors.npz", run_dir / "output.npz"
        np.savez(vec, records=cycle_records(stim))
        if out.exists():
            out.unlink()
        env = {"IFMAC_VECTORS": vec, "IFMAC_OUTPUT": out}
        if stop is not None:
            env["IFMAC_STOP_AT"] = stop
        runner.run(b, "ifmac.sim.tb_mac", env, name, waves=waves)
        if not out.exists():
            raise RuntimeError(f"the cocotb run wrote no output; see {run_dir / 'sim.log'}")
        with np.load(out) as d:
            return Results.from_arrays(d["cycle"], d["result"], d["status"]), b

    def run(self, stim):
        return self._simulate(stim, "run")[0]

    def waveform(self, stim, stop, name):
        b = self._simulate(stim, f"{name}-waves", waves=True, stop=stop + 1)[1]
        return runner.waveform_path(b, f"{name}-waves")


class IcarusBackend(Backend):
    """The exported self-checking testbench under iverilog/vvp."""
    name = "icarus"

    def build(self) -> BuildInfo:
        if not icarus_available():
            raise InputError("the icarus backend needs `iverilog` on PATH "
                               "(Debian package iverilog)")
        return BuildInfo(0.0, False)

    def _run(self, stim, name, vcd=False) -> tuple[Results, Path]:
        from . import testbench
        exp = Results.from_arrays([], [], [])
        d = self._dir(name)
        testbench.export(self.dut, stim, exp, d, verilog=self.verilog)
        r = testbench.run(d, "icarus", plusargs=["+vcd"] if vcd else [])
        if "PASS" not in r.summary and "FAIL" not in r.summary:
            raise RuntimeError(f"Icarus did not finish the testbench in {d}:\n{r.output[-2000:]}")
        return Results.from_arrays(*testbench.read_observed(d)), d

    def run(self, stim):
        # The testbench is given no expectations (its own check then fails
        # on every result); ifmac compares what it observed.
        return self._run(stim, "run")[0]

    def waveform(self, stim, stop, name):
        d = self._run(_truncate(stim, stop + 1), f"{name}-waves", vcd=True)[1]
        return d / "tb.vcd"


class AmaranthBackend(Backend):
    """Amaranth's Python simulator on the elaborated component."""
    name = "amaranth"

    def _simulate(self, stim, vcd: Path | None = None) -> Results:
        from amaranth.hdl import ClockDomain, Module
        from amaranth.sim import Simulator
        dut = MAC(self.dut.config)
        m = Module()
        m.domains.sync = cd = ClockDomain("sync")
        m.submodules.mac = dut
        flags, a_scale, w_scale, a, w = records_as_ints(cycle_records(stim))
        seen = []

        async def testbench(ctx):
            # Two cycles of reset first, as every other backend does; cycle
            # t then samples the outputs and applies record t before the
            # rising edge that closes it.
            ctx.set(cd.rst, 1)
            await ctx.posedge(cd.clk)
            await ctx.posedge(cd.clk)
            a_port, w_port = dut.a.as_value(), dut.w.as_value()
            for t, f in enumerate(flags):
                if ctx.get(dut.result_valid):
                    seen.append((t, ctx.get(dut.result), ctx.get(dut.status)))
                ctx.set(cd.rst, 1 if f & FLAG_RESET else 0)
                ctx.set(dut.valid, 1 if f & FLAG_VALID else 0)
                ctx.set(dut.last, 1 if f & FLAG_LAST else 0)
                ctx.set(a_port, a[t])
                ctx.set(w_port, w[t])
                ctx.set(dut.a_scale, a_scale[t])
                ctx.set(dut.w_scale, w_scale[t])
                await ctx.posedge(cd.clk)

        sim = Simulator(m)
        sim.add_clock(1e-8, domain="sync")
        sim.add_testbench(testbench)
        if vcd is None:
            sim.run()
        else:
            with sim.write_vcd(str(vcd)):
                sim.run()
        out = np.array(seen, np.int64).reshape(-1, 3)
        return Results.from_arrays(out[:, 0], out[:, 1], out[:, 2])

    def run(self, stim):
        return self._simulate(stim)

    def waveform(self, stim, stop, name):
        vcd = self._dir(name) / f"{self.dut.name}.vcd"
        self._simulate(_truncate(stim, stop + 1), vcd)
        return vcd


BACKENDS = {b.name: b for b in (VerilatorBackend, CocotbBackend, IcarusBackend, AmaranthBackend)}


def get_backend(name: "str | Backend | None", dut: MAC) -> Backend:
    """The backend called `name` for `dut` (a Backend passes through)."""
    if isinstance(name, Backend):
        return name
    name = name or os.environ.get("IFMAC_BACKEND", DEFAULT_BACKEND)
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise InputError(f"unknown simulator {name!r}; expected one of "
                         f"{', '.join(BACKENDS)}") from None
    return cls(dut)

