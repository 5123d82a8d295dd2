"""Throughput of the whole model for populations, against SciPy and libroadrunner, in one run.

The course: an 8-week (56-day) course of six IV infusions of 0.5 mg/kg over 40 min (days 0,
2, 4, 7, 9, 11) and follow-up, with daily outputs — dose to plasma, receptor, cascade, symptom
scores and side effects, for virtual patients with covariates and PK random effects.

* batched: ketasim's trial chunks (``ketasim.trials.run.simulate_chunk``), on 1 core (one
  process, one Numba thread) and 2 cores (two worker processes, each warmed up before the
  timing starts); medians of 3 runs;
* scipy: the same model as one ODE system (``ketasim.odes``) per patient with
  ``solve_ivp`` (LSODA, rtol 1e-6, atol 1e-9), in a Python loop;
* roadrunner: libroadrunner running ketasim's SBML export of the course (CVODE, rtol 1e-6,
  atol 1e-9), one patient after another (reset between patients; the typical patient's
  parameters, so no per-patient parameter setting is charged to it);
* accuracy: batched vs solve_ivp at rtol 1e-10, largest error over every output relative
  to that output's peak;
* single-patient latency: one patient's course through ``simulate_course``;
* memory: peak RSS of ``ketasim trial`` on a 1,000,000-patient design streamed to Parquet
  (two arms of 500,000; one infusion vs saline, 7-day follow-up), in a child process.

Prints a table and writes benchmarks/results.json.  Ratios are measured in the same run.
Usage: python benchmarks/bench_trial.py [--quick]  (--quick skips the 1M-patient run)
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np
import yaml

from ketasim.adapters.sbml import scenario_sbml
from ketasim.covariates import Covariates
from ketasim.model import expose, simulate_course
from ketasim.model.odes import course_odes, solve_reference
from ketasim.model.scenario import Scenario
from ketasim.params import default_parameters
from ketasim.regimens import KetamineSessions
from ketasim.trials.design import parse_design
from ketasim.trials.run import chunk_population, plan, simulate_chunk

PARAMS = default_parameters()

DAYS = (0, 2, 4, 7, 9, 11)
TREATMENT = [KetamineSessions(dose_mg_per_kg=0.5, days=DAYS)]
DESIGN = {
    "name": "benchmark: 8-week course of six IV infusions, daily outputs",
    "condition": "trd",
    "scale": "MADRS",
    "n_per_arm": 8000,
    "arms": {"ketamine": {"treatment": [{"kind": "ketamine", "dose_mg_per_kg": 0.5, "days": list(DAYS)}]}},
    "assessment_days": list(range(57)),
    "endpoints": [{"type": "response", "day": 56}],
}
MILLION = {
    "name": "1,000,000 patients streamed",
    "condition": "trd",
    "scale": "MADRS",
    "n_per_arm": 500_000,
    "arms": {
        "ketamine": {"treatment": [{"kind": "ketamine", "dose_mg_per_kg": 0.5, "days": [0]}]},
        "saline": {"treatment": [{"kind": "placebo", "placebo": "saline", "days": [0]}]},
    },
    "control": "saline",
    "assessment_days": [0, 1, 7],
    "endpoints": [{"type": "response", "day": 1}, {"type": "mean_change", "day": 7}],
}
DAILY_H = 9.0 + 24.0 * np.arange(57.0)


def _chunks(indices: list[int]) -> int:
    design = parse_design(DESIGN)
    size = plan(design, replicates=1, to_file=True).chunk_size
    total = 0
    for c in indices:
        total += simulate_chunk(design, "ketamine", 0, c, size, PARAMS).patient.size
    return total


def _warm(barrier: Any) -> int:
    """Compile and warm up this worker, then wait for every other worker to be warm too
    (so each of the pool's workers has run one, and none is warming up in the timed runs)."""
    n = _chunks([0])
    barrier.wait(timeout=600)
    return n


def batched(cores: int, repeats: int = 3) -> tuple[float, int]:
    """Patient-courses per second over every chunk of an 8,000-patient arm, on ``cores``
    cores: median of ``repeats`` timed runs after every worker has warmed up."""
    design = parse_design(DESIGN)
    p = plan(design, replicates=1, to_file=True)
    chunks = list(range(p.chunks_per_arm))
    rates, n = [], 0
    if cores == 1:
        _chunks([0])  # compile and warm up
        for _ in range(repeats):
            t0 = time.perf_counter()
            n = _chunks(chunks)
            rates.append(n / (time.perf_counter() - t0))
        return statistics.median(rates), n
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(cores, mp_context=context) as pool:
        barrier = manager.Barrier(cores)
        list(pool.map(_warm, [barrier] * cores))  # one task per worker: the barrier holds each until all are warm
        for _ in range(repeats):
            t0 = time.perf_counter()
            n = sum(pool.map(_chunks, [chunks[i::cores] for i in range(cores)]))
            rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates), n


def scipy_loop(n: int) -> float:
    design = parse_design(DESIGN)
    pop = chunk_population(design, "ketamine", 0, 0, n)
    t0 = time.perf_counter()
    for i in range(n):
        one = pop.take(np.arange(i, i + 1))
        ode = course_odes(TREATMENT, one.covariates, params=PARAMS, pk_etas=one.pk_etas)
        solve_reference(ode, DAILY_H, rtol=1e-6, atol=1e-9)
    return n / (time.perf_counter() - t0)


def roadrunner_loop(n: int) -> float:
    import roadrunner

    roadrunner.Logger.setLevel(roadrunner.Logger.LOG_ERROR)
    rr = roadrunner.RoadRunner(scenario_sbml(Scenario(treatment=tuple(TREATMENT), follow_up_days=57)))
    rr.integrator.relative_tolerance = 1e-6
    rr.integrator.absolute_tolerance = 1e-9
    rr.timeCourseSelections = ["time", "nmda_occupancy", "synapses", "score_MADRS", "cadss", "sbp_mmhg"]
    times = [0.0, *DAILY_H.tolist()]
    rr.simulate(times=times)
    t0 = time.perf_counter()
    for _ in range(n):
        rr.resetAll()
        rr.simulate(times=times)
    return n / (time.perf_counter() - t0)


def max_error(n: int) -> float:
    """Largest error of the batched path the throughput is timed on (readouts at the output
    times, ``readouts_only=True``) against solve_ivp, relative to each output's peak."""
    design = parse_design(DESIGN)
    pop = chunk_population(design, "ketamine", 0, 0, n)
    out = np.unique(np.concatenate([DAILY_H, np.arange(9.0, 12.0, 1 / 12)]))
    ex = expose(
        TREATMENT, pop.covariates, 24.0 * 57, params=PARAMS, pk_etas=pop.pk_etas, output_times_h=out, readouts_only=True
    )
    assert ex.readouts is not None
    worst = 0.0
    for i in range(n):
        one = pop.take(np.arange(i, i + 1))
        ref = solve_reference(course_odes(TREATMENT, one.covariates, params=PARAMS, pk_etas=one.pk_etas), out)
        for name, r in ref.items():
            if name.startswith("plasma."):
                value = ex.concentrations_ng_ml[name.removeprefix("plasma.")][i]
            else:
                value = ex.readouts[name][i]
            worst = max(worst, float(np.max(np.abs(value - r)) / np.max(np.abs(r))))
    return worst


def single_patient_ms(repeats: int = 30) -> float:
    one = Covariates.one()
    simulate_course(TREATMENT, one, "trd", {"MADRS": [32.0]}, 24.0 * 57, DAILY_H)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        simulate_course(TREATMENT, one, "trd", {"MADRS": [32.0]}, 24.0 * 57, DAILY_H)
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def million_rss_mib() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        design = Path(tmp) / "million.yaml"
        design.write_text(yaml.safe_dump(MILLION), encoding="utf-8")
        exe = Path(sys.executable).with_name("ketasim")
        t0 = time.perf_counter()
        subprocess.run(
            [str(exe), "trial", str(design), "--out", str(Path(tmp) / "rows.parquet"), "--format", "json"],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "NUMBA_NUM_THREADS": "2"},
        )
        seconds = time.perf_counter() - t0
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0, seconds


def main() -> None:
    quick = "--quick" in sys.argv
    one_core, n1 = batched(1)
    two_cores, n2 = batched(2)
    scipy_rate = scipy_loop(5)
    rr_rate = roadrunner_loop(30)
    err = max_error(3)
    latency = single_patient_ms()
    rss, seconds = (float("nan"), float("nan")) if quick else million_rss_mib()
    results = {
        "patients_per_s": round(two_cores, 1),
        "patients_per_s_1core": round(one_core, 1),
        "ratio_vs_scipy": round(two_cores / scipy_rate, 1),
        "ratio_vs_roadrunner": round(two_cores / rr_rate, 2),
        "max_rel_error": float(f"{err:.3g}"),
        "single_patient_ms": round(latency, 2),
        "peak_rss_mib_1m": None if quick else round(rss, 1),
    }
    rows = [
        ("batched, 2 cores (patient-courses/s)", f"{two_cores:,.0f}", f"{n2} patients; target >= 20,000"),
        ("batched, 1 core", f"{one_core:,.0f}", f"{n1} patients"),
        ("scipy solve_ivp loop", f"{scipy_rate:,.1f}", f"ratio {two_cores / scipy_rate:,.0f}x (target >= 100x)"),
        ("libroadrunner (SBML export)", f"{rr_rate:,.1f}", f"ratio {two_cores / rr_rate:,.1f}x (target >= 10x)"),
        ("max relative error vs solve_ivp", f"{err:.2e}", "target <= 1e-4"),
        ("single patient, 8-week course (ms)", f"{latency:.1f}", "median of 30"),
        ("peak RSS, 1M-patient trial (MiB)", "skipped" if quick else f"{rss:,.0f}", f"{seconds:,.0f} s; < 2048"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>12}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>12}  {note}")
    out = Path(__file__).with_name("results.json")
    kept = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}  # other benchmarks' entries
    out.write_text(json.dumps({**kept, **results}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
