"""Verilog output: conversion with a descriptive header, and lint.

`LINT_WAIVERS` is the one documented list of Verilator warning classes that
are waived for ifmac's generated Verilog. Each comes from the style of
Amaranth's Verilog backend (via Yosys `write_verilog`), not from the design:

- DECLFILENAME: the backend writes every module into one file whose name is
  the user's choice, not one file per module.
- UNUSEDSIGNAL: the backend keeps named intermediate wires and the unused
  slices of wide expressions (e.g. the upper bits of a widened shift).
- WIDTHEXPAND / WIDTHTRUNC: the backend emits operands at their natural
  widths and lets Verilog's context rules extend or truncate them.
- PROCASSINIT: the backend gives every register its reset value as a
  declaration initializer (`reg x = 0;`) as well as assigning it in the
  clocked process.
"""

from __future__ import annotations

import os
import subprocess
import tempfile

from amaranth.back import rtlil as amaranth_rtlil
from amaranth.back import verilog as amaranth_verilog

from ifmac.tools import verilator_env, verilator_executable

__all__ = ["LINT_WAIVERS", "convert", "convert_rtlil", "lint"]

LINT_WAIVERS = ("DECLFILENAME", "UNUSEDSIGNAL", "WIDTHEXPAND", "WIDTHTRUNC", "PROCASSINIT")


def convert(component, name: str, header: str = "") -> str:
    """Verilog text of `component` with top module `name` and a comment header."""
    text = amaranth_verilog.convert(component, name=name, emit_src=False)
    if header:
        lines = "".join(f"// {line}".rstrip() + "\n" for line in header.strip().splitlines())
        text = lines + "\n" + text
    return text


def convert_rtlil(component, name: str) -> str:
    """Amaranth's RTLIL of `component` with top module `name`: what `convert`
    turns into Verilog (through Yosys's write_verilog), for a Yosys flow
    that reads RTLIL directly."""
    return amaranth_rtlil.convert(component, name=name, emit_src=False)


def lint(text: str, top: str, extra_waivers=()) -> tuple[bool, str]:
    """`verilator --lint-only -Wall` with LINT_WAIVERS; returns (clean, output)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"{top}.v")
        with open(path, "w") as fh:
            fh.write(text)
        cmd = [verilator_executable(), "--lint-only", "-Wall", "--top-module", top]
        cmd += [f"-Wno-{w}" for w in (*LINT_WAIVERS, *extra_waivers)]
        p = subprocess.run(cmd + [path], capture_output=True, text=True, env=verilator_env())
    out = (p.stdout + p.stderr).strip()
    return p.returncode == 0 and "%Warning" not in out, out
