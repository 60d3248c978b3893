"""What the data-quality validation costs a night: `run_night` with and without it, side by
side, each run in a fresh process (so importing Great Expectations is counted), median of N.

    .venv/bin/python -m benchmarks.validation --profile 100k [--repeat 3] [--data DIR]

Uses (or writes) the profile's world of `benchmarks/datagen.py`; every run works on a fresh
copy of its warehouse. Prints wall and CPU seconds per mode, the validation step and the
night gate alone, the bytes it keeps per night under quality/, and the load average
(`uptime`) around it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import datagen

ROOT = Path(__file__).resolve().parents[1]
PROFILES = {"2k": 2_000, "100k": 100_000, "1m": 1_000_000}

WORKER = r"""
import json, resource, shutil, sys, time
from pathlib import Path
from benchmarks import datagen
import pipelines.night as night
from pipelines.settings import GateSettings

data, copy, validate = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
shutil.copytree(data / "warehouse", copy / "warehouse")
steps = {}
def timed(name, real):
    def step(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            steps[name] = time.perf_counter() - t0
    return step
night.validate_inputs = timed("validate", night.validate_inputs)
night.judge_night = timed("gate", night.judge_night)
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = usage.ru_utime + usage.ru_stime
t0 = time.perf_counter()
night.run_night(str(data / "landing"), str(copy / "warehouse"), datagen.NIGHT,
                db_url=f"sqlite:///{copy}/recon.db", validate=validate,
                gate=GateSettings(allow_gap=True))  # the history was written, not run
wall = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
quality = copy / "warehouse" / "quality"
sizes = {}
for path in quality.rglob("*") if quality.exists() else []:
    if path.is_file():
        kind = "pages" if "pages" in path.parts else "results"
        sizes[kind] = sizes.get(kind, 0) + path.stat().st_size
print("RESULT " + json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime - cpu0,
                              "validate": steps.get("validate"), "gate": steps.get("gate"),
                              "bytes": sizes}))
"""


def measure(data: Path, validate: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="recon-bench-validation-") as tmp:
        done = subprocess.run(
            [sys.executable, "-c", WORKER, str(data), tmp, "1" if validate else "0"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="100k")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, help="the profile's world [benchmarks/data/<profile>]")
    args = parser.parse_args()
    data = args.data or ROOT / "benchmarks" / "data" / args.profile
    if not (data / "_bench.json").exists():
        datagen.generate(data, PROFILES[args.profile])
    meta = json.loads((data / "_bench.json").read_text())
    print(f"{args.profile}: {meta['customers']} customers, night {meta['night']}")
    print(f"tonight's rows: {meta['rows']['night']}")
    print(f"before: {uptime()}")
    runs: dict[bool, list[dict]] = {False: [], True: []}
    for i in range(args.repeat):
        for validate in (False, True):
            runs[validate].append(measure(data, validate))
            r = runs[validate][-1]
            print(
                f"  run {i + 1} {'with   ' if validate else 'without'} validation: "
                f"wall {r['wall']:.2f} s, cpu {r['cpu']:.2f} s",
                flush=True,
            )
    print(f"after:  {uptime()}")
    med = {v: {k: statistics.median(r[k] for r in runs[v]) for k in ("wall", "cpu")} for v in runs}
    step = statistics.median(r["validate"] for r in runs[True])
    print(f"\nmedian of {args.repeat}        wall s   cpu s")
    for v, name in ((False, "without validation"), (True, "with validation")):
        print(f"  {name:<19} {med[v]['wall']:7.2f} {med[v]['cpu']:7.2f}")
    print(
        f"  {'difference':<19} {med[True]['wall'] - med[False]['wall']:7.2f} "
        f"{med[True]['cpu'] - med[False]['cpu']:7.2f}"
    )
    gate = statistics.median(r["gate"] for v in runs for r in runs[v])
    print(f"  validate step alone (GX import, 4 suites, pages): {step:.2f} s wall")
    print(f"  the gate alone (thresholds, inventory, predecessor): {gate:.2f} s wall")
    sizes = runs[True][-1]["bytes"]
    print(
        f"\nquality/ per night: results {sizes.get('results', 0):,} bytes, "
        f"pages {sizes.get('pages', 0):,} bytes"
    )


if __name__ == "__main__":
    main()
