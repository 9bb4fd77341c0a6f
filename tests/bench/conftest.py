"""Benchmarks print their figures; they never assert on timing."""

from __future__ import annotations

import statistics


def percentiles(samples: list[float]) -> tuple[float, float]:
    """Return (p50, p95) of the samples."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def report(title: str, **figures: object) -> None:
    """Print one benchmark result block."""
    print(f'\n=== {title} ===')
    for name, value in figures.items():
        print(f'  {name}: {value}')
