"""`make verilog`: the Verilog of every default configuration into a folder."""

import os
import sys

from .mac import DEFAULT_CONFIGS, MAC
from .verilog import convert


def main(out_dir: str = os.path.join("build", "verilog")) -> int:
    os.makedirs(out_dir, exist_ok=True)
    configs = DEFAULT_CONFIGS
    for k, config in enumerate(configs, 1):
        dut = MAC(config)
        path = os.path.join(out_dir, f"{dut.name}.v")
        with open(path, "w") as fh:
            fh.write(convert(dut, dut.name, dut.header()))
        print(f"[{k:2d}/{len(configs)}] {path} (latency {dut.latency})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
