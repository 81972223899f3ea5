"""The native simulation backend: the MAC's Verilog compiled by Verilator
together with a small C++ harness (native_harness.cpp), driven through pipes.

Python writes per-cycle records in chunks to the harness's stdin from a
writer thread and reads the results from its stdout in a reader thread, so
the C++ model simulates chunk k while Python builds chunk k+1 and its golden
results: on two cores, stimulus, golden model and simulation overlap, and
memory stays bounded by the few chunks in flight, whatever the beat count.

Builds are cached by content under build/sim/ (a hash of the Verilog, the
harness source, the build flags and the Verilator version). A failing chunk
is replayed on a traced build up to just past its first mismatch to write a
VCD waveform.
"""

from __future__ import annotations

import hashlib
import os
import queue
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ifmac.hdl.verilog import LINT_WAIVERS
from ifmac.tools import verilator_env

from .runner import build_root
from .stimulus import FLAG_VALID, Stimulus, cycle_records

__all__ = ["NativeBuild", "build", "Session", "OUTPUT_DTYPE"]

HARNESS = Path(__file__).with_name("native_harness.cpp")

#: One observed result: the harness's 16-byte output record; the cycle
#: CHUNK_END closes a chunk.
OUTPUT_DTYPE = np.dtype([("cycle", "<i8"), ("result", "<u4"), ("status", "<u4")])
CHUNK_END = np.iinfo(np.int64).min

WRAPPER_TOP = "ifmac_native_top"

#: Cycles packed and written at a time.
SLICE_CYCLES = 1 << 16


def wrapper(top: str, code_width: int, status_width: int) -> str:
    """Verilog of the harness's top: `top` behind a register on every input
    (see native_harness.cpp for why)."""
    return f"""// ifmac native harness top: {top} with registered inputs.
module {WRAPPER_TOP}(
  input clk, input rst, input valid, input last,
  input [{code_width - 1}:0] a, input [{code_width - 1}:0] w,
  input [7:0] a_scale, input [7:0] w_scale,
  output result_valid, output [31:0] result, output [{status_width - 1}:0] status);
  reg rst_q = 1'b1, valid_q = 1'b0, last_q = 1'b0;
  reg [{code_width - 1}:0] a_q = 0, w_q = 0;
  reg [7:0] a_scale_q = 0, w_scale_q = 0;
  always @(posedge clk) begin
    rst_q <= rst; valid_q <= valid; last_q <= last;
    a_q <= a; w_q <= w; a_scale_q <= a_scale; w_scale_q <= w_scale;
  end
  {top} mac(.clk(clk), .rst(rst_q), .valid(valid_q), .last(last_q), .a(a_q), .w(w_q),
    .a_scale(a_scale_q), .w_scale(w_scale_q),
    .result_valid(result_valid), .result(result), .status(status));
endmodule
"""

#: Verilator and g++ options. -O3 and fast X handling for Verilator's own
#: optimizations; g++ -O3 (OPT_FAST) on the per-cycle code: on if4 fused
#: b16 the harness alone ran 2 M beats in 1.53 s at -O3 against 1.67 s at
#: -O2 (mean of five runs each); -march=native and profile-guided builds
#: gained nothing more.
VERILATOR_FLAGS = ("-O3", "--x-assign", "fast", "--x-initial", "fast", "-Wall",
                   *(f"-Wno-{w}" for w in LINT_WAIVERS))
CXX_OPT = "-O3"

#: Verilator options per kind of trace.
#: Toggle counts are wanted for every net, also the ones whose names start
#: with an underscore (Yosys's netlist names), which Verilator skips by default.
TRACES = {"": [], "vcd": ["--trace"], "saif": ["--trace-saif", "--trace-underscore"]}


@dataclass(frozen=True)
class NativeBuild:
    top: str
    executable: Path
    code_bytes: int
    cached: bool
    seconds: float
    trace: str


def _make_env(cxx_opt: str | None = None) -> dict:
    """`cxx_opt`, when given, is the g++ optimization of all the model's
    files (OPT_FAST and OPT_SLOW); else OPT_FAST is IFMAC_CXX_OPT or CXX_OPT."""
    if cxx_opt is not None:
        return verilator_env(make_vars=[f"OPT_FAST={cxx_opt}", f"OPT_SLOW={cxx_opt}"])
    return verilator_env(make_vars=[f"OPT_FAST={os.environ.get('IFMAC_CXX_OPT', CXX_OPT)}"])


def build(top: str, verilog: str, code_width: int, status_width: int,
          trace: str = "", waivers: tuple[str, ...] = (),
          cxx_opt: str | None = None) -> NativeBuild:
    """Compile (or reuse) the harness for `verilog` with top module `top`,
    whose `a`/`w` ports are `code_width` bits wide. `trace` is "" (none),
    "vcd" (waveforms) or "saif" (toggle counts); `waivers` are Verilator
    warnings waived on top of LINT_WAIVERS."""
    if trace not in TRACES:
        raise ValueError(f"trace {trace!r}; expected one of {', '.join(map(repr, TRACES))}")
    import verilator
    env = _make_env(cxx_opt)
    flags = (list(VERILATOR_FLAGS) + [f"-Wno-{w}" for w in waivers]
             + TRACES[trace])
    top_v = wrapper(top, code_width, status_width)
    code_bytes = (code_width + 7) // 8
    key = hashlib.sha256("\n".join([verilog, top_v, HARNESS.read_text(), " ".join(flags),
                                    env["MAKEFLAGS"], verilator.__version__]).encode())
    directory = build_root() / f"{top}-native{'-' + trace if trace else ''}-{key.hexdigest()[:12]}"
    exe = directory / "harness"
    if (directory / ".built").exists():
        return NativeBuild(top, exe, code_bytes, True, 0.0, trace)
    t0 = time.perf_counter()
    # Build in a private folder and rename it into place, so that parallel
    # jobs asking for the same model never see a half-built one.
    tmp = directory.with_name(f"{directory.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / f"{top}.v").write_text(verilog)
    (tmp / f"{WRAPPER_TOP}.v").write_text(top_v)
    cmd = ["verilator", "--cc", "--exe", "--build", "-j", "1", "--prefix", "Vmac",
           "--top-module", WRAPPER_TOP, *flags, "--Mdir", "obj", "-o", "../harness",
           f"{top}.v", f"{WRAPPER_TOP}.v", str(HARNESS)]
    with open(tmp / "build.log", "w") as log:
        p = subprocess.run(cmd, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        tail = (tmp / "build.log").read_text().splitlines()[-20:]
        raise RuntimeError(f"Verilator build of {top} failed (log {tmp / 'build.log'}):\n"
                           + "\n".join(tail))
    seconds = time.perf_counter() - t0
    shutil.rmtree(tmp / "obj")          # the executable is all a run needs
    (tmp / ".built").write_text(f"{seconds:.2f}\n")
    try:
        tmp.rename(directory)
    except OSError:                     # another job finished the same build first
        shutil.rmtree(tmp, ignore_errors=True)
        return NativeBuild(top, exe, code_bytes, True, 0.0, trace)
    return NativeBuild(top, exe, code_bytes, False, seconds, trace)


def split_chunks(parts: list, recs: np.ndarray) -> tuple[list, list]:
    """Cut output records at the chunk-end markers: (the chunks completed,
    each with the parts of it read before), and the parts of the chunk still
    open. One read can hold the ends of several chunks."""
    done, start = [], 0
    for end in np.flatnonzero(recs["cycle"] == CHUNK_END):
        done.append(np.concatenate(parts + [recs[start:end]]))
        parts, start = [], int(end) + 1
    return done, parts + [recs[start:]]


class Session:
    """One running harness process. `submit` queues a stimulus chunk (it
    returns at once); `result` returns the observed results of the oldest
    submitted chunk, in submission order."""

    def __init__(self, b: NativeBuild, vcd: Path | None = None, dump_from: int = 0):
        args = [str(b.executable), str(b.code_bytes)]
        if vcd is not None:
            args += [str(vcd), str(dump_from)]
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, bufsize=0)
        self._inbox: queue.Queue = queue.Queue(maxsize=2)
        self._outbox: queue.Queue = queue.Queue()
        self._writer = threading.Thread(target=self._write, daemon=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._writer.start()
        self._reader.start()
        self._closed = False

    def _write(self) -> None:
        # Records are packed here, a slice at a time, so that packing the
        # next slice overlaps the harness simulating the previous one.
        stdin = self._proc.stdin
        try:
            while (stim := self._inbox.get()) is not None:
                stdin.write(np.uint64(stim.cycles).tobytes())
                beat = 0
                for start in range(0, stim.cycles, SLICE_CYCLES):
                    rec = cycle_records(stim, start, start + SLICE_CYCLES, beat)
                    beat += int(np.count_nonzero(rec[:, 0] & FLAG_VALID))
                    stdin.write(memoryview(rec).cast("B"))
            stdin.write(np.uint64(0).tobytes())
            stdin.close()
        except (BrokenPipeError, OSError):
            pass                        # the harness died; the reader reports it

    def _read(self) -> None:
        fd = self._proc.stdout.fileno()
        pending = bytearray()
        parts: list[np.ndarray] = []
        size = OUTPUT_DTYPE.itemsize
        while block := os.read(fd, 1 << 20):
            pending += block
            whole = len(pending) // size * size
            if not whole:
                continue
            recs = np.frombuffer(bytes(pending[:whole]), OUTPUT_DTYPE)
            del pending[:whole]
            done, parts = split_chunks(parts, recs)
            for chunk in done:
                self._outbox.put(chunk)
        self._outbox.put(None)

    def submit(self, stim: Stimulus) -> None:
        self._inbox.put(stim)

    def result(self) -> np.ndarray:
        """Observed records (OUTPUT_DTYPE) of the oldest submitted chunk."""
        out = self._outbox.get()
        if out is None:
            self._proc.wait()
            err = self._proc.stderr.read().decode(errors="replace").strip()
            raise RuntimeError(f"the native harness ended early (exit {self._proc.returncode})"
                               + (f": {err}" if err else ""))
        return out

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        while self._writer.is_alive():     # a dead harness leaves the writer gone
            try:
                self._inbox.put(None, timeout=0.1)
                break
            except queue.Full:
                continue
        self._writer.join()
        self._reader.join()
        rc = self._proc.wait()
        err = self._proc.stderr.read().decode(errors="replace").strip()
        self._proc.stderr.close()
        self._proc.stdout.close()
        if rc != 0:
            raise RuntimeError(f"the native harness failed (exit {rc}): {err}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            self._proc.kill()
        self.close()
