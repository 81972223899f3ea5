"""`make verilog`: the Verilog of every default configuration into a folder."""

import os
import sys

from ifmac.golden.formats import FORMAT_NAMES
from ifmac.golden.model import ARCHS

from .mac import MAC
from .verilog import convert


def main(out_dir: str = os.path.join("build", "verilog")) -> int:
    os.makedirs(out_dir, exist_ok=True)
    configs = [(f, a, 16) for f in FORMAT_NAMES for a in ARCHS]
    configs += [(f, a, b) for f in ("if4", "nvfp4") for a in ARCHS for b in (8, 32)]
    for k, (f, a, b) in enumerate(configs, 1):
        dut = MAC(f, a, b)
        path = os.path.join(out_dir, f"{dut.name}.v")
        with open(path, "w") as fh:
            fh.write(convert(dut, dut.name, dut.header()))
        print(f"[{k:2d}/{len(configs)}] {path} (latency {dut.latency})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
