"""Registry write throughput and latency: a burst of session records (one transaction and one
audit row each), on an SQLite file (WAL) and on a PostgreSQL server started for the run with
fsync on (tests/pg.py).

    .venv/bin/python benchmarks/bench_registry.py [--n 400]

Prints writes/s and the median and 99th-percentile latency per backend (medians of 3 bursts,
the machine is noisy), and stores them under "registry" in benchmarks/results.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from ketasim.registry import Registry
from pg import running_postgres

PASSWORD = "correct horse battery"
PATIENT = {
    "mrn": "B-1", "given_name": "Ben", "family_name": "Mark", "birth_date": "1980-01-01", "sex": "male",
    "clinical": {"weight_kg": 80, "height_cm": 180, "diagnoses": ["trd"], "failed_antidepressant_trials": 2,
                 "vitals": {"systolic_mmhg": 120, "diastolic_mmhg": 80, "heart_rate_bpm": 70, "spo2_pct": 98},
                 "baseline_scores": {"MADRS": 30}},
}  # fmt: skip


def burst(url: str, n: int, bursts: int = 3) -> dict[str, float]:
    """Medians over ``bursts`` of: writes per second, p50 and p99 latency (ms)."""
    registry = Registry.open(url)
    admin = registry.create_user(None, "admin", "A", "admin", PASSWORD)
    nurse = registry.create_user(admin, "nurse", "N", "nurse", PASSWORD)
    doc = registry.create_user(admin, "doc", "D", "prescriber", PASSWORD)
    patient = registry.add_patient(doc, PATIENT).uid
    start = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    rates, p50, p99 = [], [], []
    for b in range(bursts):
        latencies = []
        t_burst = time.perf_counter()
        for i in range(n):
            t0 = time.perf_counter()
            registry.record_session(
                nurse,
                {"patient_uid": patient, "started_at": (start + timedelta(hours=b * n + i)).isoformat(),
                 "drug": "esketamine", "route": "intranasal", "dose_mg": 56, "lot_number": f"L{i}"},
            )  # fmt: skip
            latencies.append(time.perf_counter() - t0)
        rates.append(n / (time.perf_counter() - t_burst))
        p50.append(1000 * float(np.percentile(latencies, 50)))
        p99.append(1000 * float(np.percentile(latencies, 99)))
    registry.engine.dispose()
    return {
        "writes_per_s": round(statistics.median(rates), 1),
        "p50_ms": round(statistics.median(p50), 2),
        "p99_ms": round(statistics.median(p99), 2),
        "writes_per_burst": n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    n = parser.parse_args().n
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        figures["sqlite"] = burst(f"sqlite:///{Path(tmp) / 'bench.db'}", n)
    with running_postgres("54331", fsync=True) as url:
        figures["postgresql"] = burst(url, n)
    print(json.dumps(figures, indent=2))
    out = Path(__file__).with_name("results.json")
    results = json.loads(out.read_text()) if out.exists() else {}
    results["registry"] = figures
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
