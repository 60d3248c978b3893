"""A long backfill, timed night by night: does a night cost more as the history grows?

    .venv/bin/python -m benchmarks.backfill --customers 100000 --days 120
    .venv/bin/python -m benchmarks.backfill --landing DIR ...   # reuse a generated zone

Generates a landing zone with `recon generate` (unless --landing names one), then runs
`recon backfill` over every night into a fresh warehouse (SQLite case store), reading the
per-night seconds from its progress lines. Prints the medians of the first, middle and
last ten nights and the least-squares slope of seconds per night of history, and writes
`benchmarks/results/backfill-<customers>.json` and `.png` (seconds against the night's
number, bill-run nights marked). Validation is off unless --validate (a backfill of trusted
history); the night gate is on.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = REPO / "benchmarks" / "results"
PROGRESS = re.compile(
    r"^\[\s*(\d+)/(\d+)\] (\d{4}-\d{2}-\d{2})\s+cases\s+(\d+)\s+new\s+(\d+)\s+closed\s+(\d+)\s+"
    r"([0-9.]+)s$"
)


def recon(*args: object, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "recon"), *map(str, args)],
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )


def billing_rows(landing: Path, day: date) -> int:
    manifest = landing / "billing_lines" / f"business_date={day}" / "_manifest.json"
    return sum(int(f["rows"]) for f in json.loads(manifest.read_text())["files"])


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys against xs."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def chart(nights: list[dict], path: Path, title: str) -> None:
    import altair as alt
    import vl_convert

    data = alt.Data(values=nights)
    base = alt.Chart(data).encode(
        x=alt.X("night:Q", title="night (= nights of history before it + 1)"),
        y=alt.Y("seconds:Q", title="seconds"),
    )
    plot = (
        base.mark_line(color="#999")
        + base.mark_point(filled=True).encode(
            color=alt.Color("kind:N", title=None, sort=["bill-run night", "other night"])
        )
    ).properties(title=title, width=640, height=260)
    path.write_bytes(vl_convert.vegalite_to_png(plot.to_json(), scale=2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 1))
    parser.add_argument("--landing", type=Path, help="a landing zone generated before")
    parser.add_argument("--validate", action="store_true", help="validate every night")
    parser.add_argument("--keep", action="store_true", help="keep the folder")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="recon-backfill-"))
    landing = args.landing or root / "landing"
    end = args.start + timedelta(days=args.days - 1)
    try:
        if args.landing is None:
            t0 = time.perf_counter()
            generated = recon(
                "generate",
                "--out",
                landing,
                "--seed",
                args.seed,
                "--customers",
                args.customers,
                "--start",
                args.start,
                "--days",
                args.days,
                stdout=subprocess.DEVNULL,
            )
            if generated.wait():
                return 1
            print(f"generate: {time.perf_counter() - t0:.1f} s")
        load = os.getloadavg()
        t0 = time.perf_counter()
        options = [] if args.validate else ["--no-validate"]
        proc = recon(
            "backfill",
            "--landing",
            landing,
            "--warehouse",
            root / "warehouse",
            "--start",
            args.start,
            "--end",
            end,
            *options,
            stderr=subprocess.PIPE,
            cwd=root,
        )
        nights = []
        said: deque[str] = deque(maxlen=40)  # recon's other lines, shown if it fails
        assert proc.stderr is not None
        for line in proc.stderr:
            match = PROGRESS.match(line.strip())
            if not match:
                said.append(line.rstrip())
                continue
            i, _, day, cases, new, closed, seconds = match.groups()
            rows = billing_rows(landing, date.fromisoformat(day))
            nights.append(
                {
                    "night": int(i),
                    "business_date": day,
                    "seconds": float(seconds),
                    "cases": int(cases),
                    "new": int(new),
                    "closed": int(closed),
                    "billing_rows_tonight": rows,
                    "kind": "bill-run night" if rows > 0 else "other night",
                    "load1": round(os.getloadavg()[0], 2),
                }
            )
            if int(i) % 10 == 0:
                print(line.rstrip(), flush=True)
        if proc.wait():
            print("\n".join([*said, "the backfill failed"]), file=sys.stderr)
            return 1
        wall = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
        seconds = [n["seconds"] for n in nights]
        mid = len(seconds) // 2
        first, middle, last = (
            statistics.median(part)
            for part in (seconds[:10], seconds[mid - 5 : mid + 5], seconds[-10:])
        )
        bill = [n for n in nights if n["kind"] == "bill-run night"]
        other = [n for n in nights if n["kind"] == "other night"]
        per_night = {
            kind: slope([n["night"] for n in group], [n["seconds"] for n in group])
            for kind, group in (("bill-run nights", bill), ("other nights", other))
            if len(group) > 1
        }
        print(
            f"\n{args.customers} customers, {len(nights)} nights: {wall:.0f} s wall, peak RSS "
            f"{peak} MiB, load {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after\n"
            f"median seconds per night: nights 1-10 {first:.2f}, middle ten {middle:.2f}, "
            f"last ten {last:.2f}\n"
            + "\n".join(
                f"slope ({kind}): {s * 100:+.2f} s per 100 nights of history"
                for kind, s in per_night.items()
            )
        )
        size = args.customers
        name = f"backfill-{size // 1000}k" if size % 1000 == 0 else f"backfill-{size}"
        doc = {
            "customers": args.customers,
            "days": args.days,
            "seed": args.seed,
            "validated": args.validate,
            "wall_seconds": round(wall, 1),
            "peak_rss_mib": peak,
            "load_average_start": load,
            "load_average_end": os.getloadavg(),
            "median_seconds": {"first_ten": first, "middle_ten": middle, "last_ten": last},
            "slope_seconds_per_night": per_night,
            "nights": nights,
        }
        (RESULTS / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
        chart(
            nights,
            RESULTS / f"{name}.png",
            f"recon backfill, {args.customers:,} customers: seconds per night",
        )
        print(f"wrote {RESULTS / name}.json and .png")
        return 0
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
