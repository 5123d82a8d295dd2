"""The fused readout path (``expose(..., readouts_only=True)``, the path of virtual trials and
``simulate_course``).  From the same occupancy, the cascade, the mood lag and the tolerance
computed block by block and written only at the output times must be the full-grid stages
sampled there, to the last bit (the same arithmetic in the same order), for any grid,
patients, output times and followers.  Upstream, the PK marches the blocking load as one row
(a linear combination of the states) instead of summing concentration rows, and observes the
concentrations at the output times only: the same solution up to the round-off of the
eigen-basis change (≤ 1e-12 of a patient's peak; the outputs' largest value can be far below
the peak, so whole courses are compared at 1e-9 of it)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from ketasim.model.course import expose, outcomes
from ketasim.params import default_parameters
from ketasim.pd._filters import first_order, sampler
from ketasim.pd.cascade import PATIENT_BLOCK, READOUTS, CascadeParameters, normalisers, readouts, run_cascade
from ketasim.population import Demographics, sample_population
from ketasim.regimens import KetamineSessions, OralAntidepressant, PlaceboSessions, TreatmentItem

PARAMS = default_parameters()
CASCADE = CascadeParameters.from_params(PARAMS)
FloatArray = NDArray[np.float64]


def _close(got: FloatArray, want: FloatArray, rel: float = 1e-13) -> bool:
    scale = max(float(np.max(np.abs(want), initial=0.0)), 1e-300)
    return float(np.max(np.abs(got - want), initial=0.0)) <= rel * scale


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 2 * PATIENT_BLOCK + 3),
    nodes=st.integers(3, 300),
    seed=st.integers(0, 2**32 - 1),
    n_out=st.integers(1, 40),
    follow=st.lists(st.sampled_from(["nmda_occupancy", "ampa", "surge", "spines_stable", "network"]), max_size=3),
)
def test_the_sweep_equals_the_full_grid_stages_sampled(
    n: int, nodes: int, seed: int, n_out: int, follow: list[str]
) -> None:
    rng = np.random.default_rng(seed)
    grid = np.concatenate([[0.0], np.cumsum(rng.uniform(0.005, 3.0, nodes - 1))])
    occupancy = np.clip(np.cumsum(rng.normal(0.0, 0.1, (n, nodes)), axis=1), 0.0, 1.0)
    on_nodes = grid[rng.integers(0, nodes, n_out)]
    between = rng.uniform(grid[0], grid[-1], n_out)
    times = np.concatenate([on_nodes, between, [grid[0], grid[-1]]])
    rng.shuffle(times)  # any order, repeats allowed
    taus = {f"f{i}": (state, float(rng.uniform(0.05, 200.0))) for i, state in enumerate(follow)}
    at = sampler(grid, times)
    got = readouts(occupancy, grid, CASCADE, at, taus)

    full = run_cascade(occupancy, grid, CASCADE)
    assert list(got)[: len(full)] == list(full)  # the reported states, in their order
    for name, values in full.items():
        assert got[name].shape == (n, times.size)
        assert _close(got[name], at(values)), name
    raw_surge = full["glutamate"] * dict(normalisers(CASCADE))["surge"] / CASCADE.glutamate_peak_rise
    for key, (state, tau) in taus.items():
        plane = raw_surge if state == "surge" else full[state]
        assert _close(got[key], at(first_order(plane, tau, grid))), (key, state)


def _courses() -> list[list[TreatmentItem]]:
    return [
        [KetamineSessions(dose_mg_per_kg=0.5, days=(0, 2, 4, 7, 9, 11))],
        [KetamineSessions(drug="esketamine", route="intranasal", dose_mg=56, days=(0, 3, 7)),
         OralAntidepressant(start_day=0, newly_started=True)],
        [KetamineSessions(dose_mg_per_kg=0.5, days=(0,)),
         KetamineSessions(drug="esketamine", route="intranasal", dose_mg=28, days=(2,)),
         PlaceboSessions(placebo="midazolam", days=(4,))],
    ]  # fmt: skip


@pytest.mark.parametrize("course", range(3))
def test_a_course_from_the_readouts_equals_the_course_from_the_full_grid(course: int) -> None:
    treatment = _courses()[course]
    pop = sample_population(PATIENT_BLOCK + 9, 7, "trd", {"MADRS": 32.0}, Demographics())
    times = np.array([0.0, 1.0, 9.5, 24.0, 24.0 * 5 + 0.3, 24.0 * 13, 24.0 * 20])
    gains = pop.gains(PARAMS)
    exposures = [
        expose(treatment, pop.covariates, 24.0 * 21, params=PARAMS, pk_etas=pop.pk_etas,
               output_times_h=times, readouts_only=only)
        for only in (False, True)
    ]  # fmt: skip
    full, fused = (outcomes(ex, "trd", pop.baselines, times, params=PARAMS, gains=gains) for ex in exposures)
    assert exposures[1].tolerance is None and set(exposures[1].states) == {"nmda_occupancy"}
    assert set(fused.states) == set(full.states)
    for name in full.states:
        assert _close(fused.states[name], full.states[name], 1e-9), name
    for group in ("scales", "adverse", "concentrations_ng_ml", "free_brain_um"):
        for name, values in getattr(full, group).items():
            assert _close(getattr(fused, group)[name], values, 1e-9), (group, name)
    grid_occupancy = [ex.states["nmda_occupancy"] for ex in exposures]
    assert _close(grid_occupancy[1], grid_occupancy[0], 1e-10)
    sessions = np.array([t for t, _ in exposures[0].sessions])  # the tolerance at each session's start
    assert _close(exposures[1].tolerance_at(sessions), exposures[0].tolerance_at(sessions), 1e-9)


def test_a_readouts_exposure_refuses_other_times_and_other_parameters() -> None:
    pop = sample_population(5, 3, "trd", {"MADRS": 32.0}, Demographics())
    times = np.array([0.0, 24.0, 48.0])
    treatment = _courses()[0]
    ex = expose(treatment, pop.covariates, 24.0 * 3, params=PARAMS, output_times_h=times, readouts_only=True)
    with pytest.raises(ValueError, match="other output times"):
        outcomes(ex, "trd", pop.baselines, times[:2], params=PARAMS)
    with pytest.raises(ValueError, match="call expose"):
        outcomes(ex, "trd", pop.baselines, times, params=PARAMS.replace({"cascade.tau_mood_onset_h": 3.0}))
    with pytest.raises(ValueError, match="needs output_times_h"):
        expose(treatment, pop.covariates, 24.0 * 3, params=PARAMS, readouts_only=True)
    assert set(READOUTS) - {"surge"} < set(outcomes(ex, "trd", pop.baselines, times, params=PARAMS).states)
