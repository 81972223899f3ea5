"""One run-and-report engine for `ifmac sim`, `ifmac synth` and `ifmac formal`.

Each of them plans a list of units (a configuration and part, a
configuration to synthesize, a proof), runs them side by side in a pool with
one progress line per finished unit, keeps one typed record per unit and
writes a JSON summary and markdown tables. This module is that machinery,
once: `run_units` (the pool and the `[k/n]` progress line), `write_json`
(the summary) and `table` (a markdown table).
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Iterable, Sequence

__all__ = ["run_units", "progress_prefix", "write_json", "table"]


def progress_prefix(k: int, n: int) -> str:
    """`[ k/n]`: the start of every progress line, k right-aligned to n's
    width (two digits at least)."""
    return f"[{k:{max(2, len(str(n)))}d}/{n}]"


def run_units(work: Callable, units: Sequence, jobs: int, progress: Callable[[int, int, object], str],
              threads: bool = False) -> list:
    """`work(unit)` for every unit, `jobs` at a time (processes, or threads
    where the work is subprocesses anyway), in the order given; after each
    finished unit, `progress(k, n, record)` is printed. Returns the records
    in the order they finished. An exception in a unit stops the run: the
    units still queued do not start."""
    pool_type = ThreadPoolExecutor if threads else ProcessPoolExecutor
    records = []
    with pool_type(max_workers=jobs) as pool:
        futures = [pool.submit(work, u) for u in units]
        try:
            for k, fut in enumerate(as_completed(futures), 1):
                record = fut.result()
                records.append(record)
                print(progress(k, len(units), record), flush=True)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return records


def write_json(path, doc: dict) -> Path:
    """A summary as the reports write it: indented by one, ending in a newline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return path


def table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A markdown table's lines: the header, its rule and one line per row."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines
