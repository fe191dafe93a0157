"""Run every benchmark module (or those named): ``python -m bench [name ...] [options]``.

Each ``bench/bench_<name>.py`` has a ``main() -> None`` that sets up its own data on the
warehouse server (``PWR_BENCH_DATABASE_URL`` or the embedded one), measures, and prints figures:
rows/s, seconds, peak memory, and the ratio to a baseline measured in the same run.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    # options after the names go to the (one) benchmark named: python -m bench live --minutes 10
    options = [a for i, a in enumerate(argv) if any(b.startswith("-") for b in argv[: i + 1])]
    argv = argv[: len(argv) - len(options)]
    names = sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_")
    )
    wanted = [n if n.startswith("bench_") else f"bench_{n}" for n in argv] or names
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(names)}", file=sys.stderr)
        return 2
    for name in wanted:
        print(f"=== {name}", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        module.main(options) if options else module.main()
        print(f"=== {name} done in {time.perf_counter() - started:.1f}s\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
