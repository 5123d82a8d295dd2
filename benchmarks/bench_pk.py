"""PK solver speed: exact vectorised solution vs a per-patient scipy solve_ivp loop.

Run with `make bench`. Prints medians and the ratio measured in the same process.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from scipy.integrate import solve_ivp

from ketasim.covariates import Covariates
from ketasim.pk import load_model, load_pk_file, sample_etas
from ketasim.pk._individual import individual_parameters
from ketasim.pk._structures import STRUCTURES, compartments_of, rate_matrix
from ketasim.regimens import Dose

N_PATIENTS = 2000
N_SCIPY = 20
TIMES_H = np.linspace(0, 24 * 14, 14 * 24 * 4 + 1)  # 15-min grid over two weeks


def _population(n: int, seed: int = 1) -> Covariates:
    rng = np.random.default_rng(seed)
    return Covariates(weight_kg=rng.uniform(50, 120, n), age_years=rng.uniform(18, 80, n), female=rng.random(n) < 0.5)


def _median_s(fn: object, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    model = load_model("perez_ruixo_2021")
    course = [Dose(time_h=24 * d, amount_mg=56, route="intranasal") for d in (0, 3, 7, 10)]
    cov = _population(N_PATIENTS)
    etas = sample_etas(model.spec, N_PATIENTS, np.random.default_rng(2))
    exact_s = _median_s(lambda: model.simulate(course, TIMES_H, cov, etas, check=False))

    # per-patient scipy loop on the same rate matrices (inputs as boluses + zero-order segments)
    small = _population(N_SCIPY)
    params = individual_parameters(load_pk_file("perez_ruixo_2021"), small)
    flows = STRUCTURES["perez_ruixo_2021"](params, {})
    cmts = compartments_of(flows)
    m = rate_matrix(flows, cmts, N_SCIPY)

    def scipy_loop() -> None:
        for p in range(N_SCIPY):
            mp = m[p]
            x = np.zeros(len(cmts))
            t_prev = 0.0
            for dose in course:
                if dose.time_h > t_prev:
                    x = solve_ivp(
                        lambda t, y, mp=mp: mp @ y,
                        (t_prev, dose.time_h),
                        x,
                        method="LSODA",
                        rtol=1e-8,
                        atol=1e-12,
                    ).y[:, -1]
                x[cmts.index("depot_nasal")] += 56 * 0.45
                t_prev = dose.time_h
            solve_ivp(
                lambda t, y, mp=mp: mp @ y,
                (t_prev, TIMES_H[-1]),
                x,
                method="LSODA",
                rtol=1e-8,
                atol=1e-12,
                t_eval=TIMES_H[t_prev <= TIMES_H],
            )

    scipy_s = _median_s(scipy_loop, repeats=3)
    exact_per_patient = exact_s / N_PATIENTS
    scipy_per_patient = scipy_s / N_SCIPY
    print(
        f"exact vectorised: {N_PATIENTS} patients x {TIMES_H.size} times in {exact_s * 1e3:.1f} ms "
        f"({N_PATIENTS / exact_s:,.0f} patients/s)"
    )
    print(f"scipy loop:       {N_SCIPY} patients in {scipy_s * 1e3:.1f} ms ({N_SCIPY / scipy_s:,.0f} patients/s)")
    print(f"ratio (scipy per-patient time / exact per-patient time): {scipy_per_patient / exact_per_patient:,.0f}x")


if __name__ == "__main__":
    main()
