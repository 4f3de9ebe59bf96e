"""Markdown tables from `bench_sandbox_endpoints.py --json` files: one table per seed size, the median of
each call with and without the indexes where both runs exist.

    .venv/bin/python benchmarks/bench_sandbox_report.py benchmarks/results/bench_sandbox_endpoints_*.json

With `--by-seed` first: one table, a column per seed size (each call's last measurement among the files
given, in order), so a later file (e.g. a re-run of a few calls) overrides an earlier one, and the
ratio of the largest seed's median to the smallest's (issue #17's goal: within 2x, and under 100 ms).
`--by-seed --cpu`: the same with the sandbox's CPU time per call (`cpu_median_ms`, when measured).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def by_seed(paths: list[str], key: str = "median_ms") -> int:
    cells: dict[str, dict[int, dict]] = {}
    served: dict[int, list[str]] = {}
    for path in paths:
        for run in json.loads(Path(path).read_text()):
            cpu = f" ({run['cpu_seconds_to_serve']} CPU-s)" if "cpu_seconds_to_serve" in run else ""
            served.setdefault(run["seed"], []).append(
                f"{run['label'] or Path(path).stem}: serving after {run['seconds_to_serve']} s{cpu}, "
                f"RSS {run['rss_mib']} MiB"
            )
            for call in run["calls"]:
                cells.setdefault(call["call"], {})[run["seed"]] = call
    seeds = sorted(served)
    for seed in seeds:
        print(f"- seed {seed:,}: " + "; ".join(served[seed]))
    ratio = len(seeds) > 1
    print(
        "\n| call | "
        + " | ".join(
            f"{seed:,}: median ms (min-max)" if key == "median_ms" else f"{seed:,}: CPU ms (max)" for seed in seeds
        )
        + (f" | {seeds[-1]:,} / {seeds[0]:,} |" if ratio else " |")
    )
    print("|---|" + "---|" * (len(seeds) + ratio))
    for name, per_seed in cells.items():
        row = [
            (
                f"{per_seed[seed]['median_ms']:,} ({per_seed[seed]['min_ms']:,}-{per_seed[seed]['max_ms']:,})"
                if key == "median_ms"
                else f"{per_seed[seed][key]:,} (max {per_seed[seed]['cpu_max_ms']:,})"
            )
            if seed in per_seed and key in per_seed[seed]
            else "-"
            for seed in seeds
        ]
        if ratio:
            low, high = per_seed.get(seeds[0]), per_seed.get(seeds[-1])
            row.append(f"{high[key] / low[key]:.1f}x" if low and high and low.get(key) and key in high else "-")
        print(f"| {name} | " + " | ".join(row) + " |")
    return 0


def main(paths: list[str]) -> int:
    if paths and paths[0] == "--by-seed":
        if paths[1:2] == ["--cpu"]:
            return by_seed(paths[2:], key="cpu_median_ms")
        return by_seed(paths[1:])
    runs: dict[int, dict[str, dict]] = {}
    for path in paths:
        for run in json.loads(Path(path).read_text()):
            runs.setdefault(run["seed"], {})[run["label"] or Path(path).stem] = run
    for seed in sorted(runs):
        labels = sorted(runs[seed], key=lambda label: label != "before")
        print(f"\n### Seed {seed:,}\n")
        for label in labels:
            run = runs[seed][label]
            print(f"- {label}: serving after {run['seconds_to_serve']} s, sandbox RSS {run['rss_mib']} MiB")
        print("\n| call | " + " | ".join(f"{label} median ms (min-max)" for label in labels) + " | answer |")
        print("|---|" + "---|" * len(labels) + "---|")
        names = list(dict.fromkeys(c["call"] for label in labels for c in runs[seed][label]["calls"]))
        for name in names:
            cells, detail = [], ""
            for label in labels:
                found = [c for c in runs[seed][label]["calls"] if c["call"] == name]
                if found:
                    c = found[0]
                    cells.append(f"{c['median_ms']:,} ({c['min_ms']:,}-{c['max_ms']:,})")
                    detail = str(c["detail"])
                else:
                    cells.append("-")
            print(f"| {name} | " + " | ".join(cells) + f" | {detail} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
