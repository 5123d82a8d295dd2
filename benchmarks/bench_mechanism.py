"""One patient's full 6-week simulation (the default scenario), against a SciPy baseline.

The baseline integrates the same cascade ODEs with ``scipy.integrate.solve_ivp`` (LSODA,
rtol 1e-6) from the same occupancy, in the same process.  Prints medians and the ratio.
Target (mechanism issue): under 50 ms per patient for the full simulation.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from scipy.integrate import solve_ivp

from ketasim.io.scenario import DEFAULT_SCENARIO
from ketasim.pd.cascade import GRID_STEP_H, CascadeParameters, cascade_odes
from ketasim.simulate import simulate_scenario


def _median_ms(fn: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def main() -> None:
    simulate_scenario(DEFAULT_SCENARIO)  # warm caches (reference infusion, parameter files)
    full_ms = _median_ms(lambda: simulate_scenario(DEFAULT_SCENARIO), 20)
    result = simulate_scenario(DEFAULT_SCENARIO)
    occupancy = result.states["nmda_occupancy"][0]
    t = result.times_h
    p = CascadeParameters.default()

    rhs = cascade_odes(p, lambda tt: float(np.interp(tt, t, occupancy)))

    def scipy_cascade() -> None:
        solve_ivp(
            rhs, (0, t[-1]), np.zeros(8), method="LSODA", rtol=1e-6, atol=1e-9, t_eval=t, max_step=GRID_STEP_H * 4
        )

    scipy_ms = _median_ms(scipy_cascade, 3)
    verdict = "met" if full_ms < 50 else "MISSED"
    print(f"ketasim full simulation (PK, cascade, symptoms, side effects), 1 patient, 42 d: {full_ms:.1f} ms (median)")
    print(f"scipy solve_ivp, cascade ODEs only, same patient: {scipy_ms:.1f} ms (median of 3)")
    print(f"ratio scipy cascade / ketasim full: {scipy_ms / full_ms:.1f}x; target < 50 ms: {verdict}")


if __name__ == "__main__":
    main()
