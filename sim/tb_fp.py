"""cocotb test module: a binary32 unit against expected bit patterns.

Driven by environment variables set by the pytest runner:
IFMAC_VECTORS  .npz with `in_<port>` arrays (one per input port) and `expect`
IFMAC_OUTPUT   .npz to write the observed `result` array to
IFMAC_LATENCY  pipeline registers of the unit (0: combinational)
IFMAC_STOP_AT  optional: stop after this many vectors (waveform re-runs)
"""

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, Timer


def _describe(bits: int) -> str:
    return f"{bits:#010x} ({float(np.uint32(bits).view(np.float32))!r})"


class FPUnitTB:
    """Owns the clock (for pipelined units) and drives one vector per cycle."""

    def __init__(self, dut, ports, latency):
        self.dut, self.ports, self.latency = dut, ports, latency
        if latency:
            cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())

    async def reset(self):
        if self.latency:
            self.dut.rst.value = 1
            await RisingEdge(self.dut.clk)
            self.dut.rst.value = 0

    async def run(self, inputs: dict, n: int) -> np.ndarray:
        got = np.zeros(n, dtype=np.uint32)
        handles = [(getattr(self.dut, p), inputs[p]) for p in self.ports]
        result = self.dut.result
        if self.latency == 0:
            for i in range(n):
                for h, v in handles:
                    h.value = int(v[i])
                await Timer(1, unit="ns")
                got[i] = result.value.to_unsigned()
            return got
        L = self.latency
        clk = self.dut.clk
        for i in range(n + L):
            if i < n:
                for h, v in handles:
                    h.value = int(v[i])
            await RisingEdge(clk)
            await Timer(1, unit="ns")
            if i >= L - 1 and i - (L - 1) < n:
                got[i - (L - 1)] = result.value.to_unsigned()
        return got


@cocotb.test()
async def fp_vectors(dut):
    data = np.load(os.environ["IFMAC_VECTORS"])
    latency = int(os.environ["IFMAC_LATENCY"])
    ports = [k[3:] for k in data.files if k.startswith("in_")]
    inputs = {p: data[f"in_{p}"] for p in ports}
    expect = data["expect"]
    n = len(expect)
    stop = int(os.environ.get("IFMAC_STOP_AT", n))
    tb = FPUnitTB(dut, ports, latency)
    await tb.reset()
    got = await tb.run(inputs, min(n, stop))
    np.savez(os.environ["IFMAC_OUTPUT"], result=got)
    bad = np.flatnonzero(got[:stop] != expect[:stop])
    if len(bad):
        i = int(bad[0])
        operands = ", ".join(f"{p} = {_describe(int(inputs[p][i]))}" if p != "value"
                             else f"{p} = {int(inputs[p][i])}" for p in ports)
        dut._log.error(f"vector {i}: {operands}: expected {_describe(int(expect[i]))}, "
                       f"got {_describe(int(got[i]))}")
    assert len(bad) == 0, f"{len(bad)} of {min(n, stop)} vectors mismatch; first at {bad[0]}"
