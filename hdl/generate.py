"""`make verilog`: the Verilog of every default configuration into a folder,
each with its Verilator lint waivers (.vlt)."""

import os
import sys

from .mac import DEFAULT_CONFIGS, MAC
from .verilog import write


def main(out_dir: str = os.path.join("build", "verilog")) -> int:
    os.makedirs(out_dir, exist_ok=True)
    configs = DEFAULT_CONFIGS
    for k, config in enumerate(configs, 1):
        dut = MAC(config)
        path, vlt = write(dut, os.path.join(out_dir, f"{dut.name}.v"))
        print(f"[{k:2d}/{len(configs)}] {path}, {vlt} (latency {dut.latency})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
