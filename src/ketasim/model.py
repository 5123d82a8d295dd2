"""The whole chain for one patient or many: dose → plasma → brain → receptor → cascade →
symptom scores and side effects.  One entry point, :func:`simulate_course`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ketasim.pd.adverse import (
    AdverseParameters,
    cadss,
    exposure_flags,
    haemodynamics,
    session_probabilities,
    tolerance_index,
)
from ketasim.pd.cascade import GRID_STEP_H, CascadeParameters, _reference_occupancy, run_cascade
from ketasim.pd.receptor import nmda_occupancy
from ketasim.pd.symptoms import (
    EfficacyParameters,
    PatientGains,
    remaining_fraction,
    rising,
    score,
    session_expectancy,
)
from ketasim.pd._params import fixed
from ketasim.pk import load_model
from ketasim.population import Covariates
from ketasim.regimens import (
    Dose,
    KetamineSessions,
    OralAntidepressant,
    PlaceboSessions,
    TreatmentItem,
)

FloatArray = NDArray[np.float64]
DEFAULT_VITALS = {"systolic_mmhg": 120.0, "diastolic_mmhg": 80.0, "heart_rate_bpm": 70.0}
ADVERSE_WINDOW_H = 4.0


@dataclass(frozen=True)
class CourseResult:
    """Trajectories of P patients at the output times (arrays are patients × times)."""

    times_h: FloatArray
    concentrations_ng_ml: dict[str, FloatArray]
    free_brain_um: dict[str, FloatArray]
    states: dict[str, FloatArray]
    scales: dict[str, FloatArray]
    baselines: dict[str, FloatArray]
    adverse: dict[str, FloatArray]
    sessions: list[dict[str, Any]] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)


def _doses_by_drug(treatment: Sequence[TreatmentItem]) -> dict[str, list[Dose]]:
    out: dict[str, list[Dose]] = {}
    for item in treatment:
        if isinstance(item, KetamineSessions):
            out.setdefault(item.drug, []).extend(item.doses())
    return out


def _sessions(treatment: Sequence[TreatmentItem]) -> list[tuple[float, str]]:
    """(time_h, kind) of every clinic session; kind: ketamine, esketamine, saline, midazolam."""
    sessions: list[tuple[float, str]] = []
    for item in treatment:
        if isinstance(item, KetamineSessions):
            kind = "esketamine" if item.drug == "esketamine" else "ketamine"
            sessions += [(24.0 * d + item.hour_of_day, kind) for d in item.days]
        elif isinstance(item, PlaceboSessions):
            sessions += [(24.0 * d + item.hour_of_day, item.placebo) for d in item.days]
    return sorted(sessions)


def check_treatment(treatment: Sequence[TreatmentItem], covariates: Covariates) -> None:
    """Refuse doses outside clinical bounds for any patient (raises ``DoseError``)."""
    for drug, doses in _doses_by_drug(treatment).items():
        model = load_model(drug)
        for dose in doses[:1] if all(d == doses[0] for d in doses) else doses:
            for w in np.unique(covariates.weight_kg):
                model.check_dose(dose.model_copy(update={"time_h": 0.0}), float(w))


def simulate_course(
    treatment: Sequence[TreatmentItem],
    covariates: Covariates,
    condition: str,
    baselines: Mapping[str, Sequence[float] | FloatArray],
    horizon_h: float,
    output_times_h: Sequence[float] | FloatArray | None = None,
    *,
    pk_etas: Mapping[str, Mapping[str, FloatArray]] | None = None,
    gains: PatientGains | None = None,
    vitals: Mapping[str, FloatArray] | None = None,
    crp_high: NDArray[np.bool_] | None = None,
    overrides: dict[str, float] | None = None,
) -> CourseResult:
    """Simulate a treatment course for every patient in ``covariates``.

    ``baselines`` maps scale → baseline score per patient; ``output_times_h`` default to
    every 30 min to ``horizon_h``; ``pk_etas`` maps drug → PK random effects; ``gains`` are
    the symptom-layer random effects (default: typical patient); ``overrides`` replace
    calibrated values (used by the calibration itself).
    """
    n = covariates.n
    grid = np.arange(0.0, horizon_h + GRID_STEP_H / 2, GRID_STEP_H)
    out_t = (
        np.arange(0.0, horizon_h + 1e-9, 0.5) if output_times_h is None else np.asarray(output_times_h, float)
    )
    out_idx = np.clip(np.rint(out_t / GRID_STEP_H).astype(np.intp), 0, grid.size - 1)

    conc: dict[str, FloatArray] = {}
    free: dict[str, FloatArray] = {}
    for drug, doses in _doses_by_drug(treatment).items():
        res = load_model(drug).simulate(doses, grid, covariates, (pk_etas or {}).get(drug))
        conc.update(res.concentrations_ng_ml)
        for species, values in res.free_brain_um.items():
            free[species] = free.get(species, 0.0) + values
    occupancy = nmda_occupancy(free) if free else np.zeros((n, grid.size))
    occupancy = np.broadcast_to(occupancy, (n, grid.size))

    states = run_cascade(occupancy, CascadeParameters.default(overrides))

    sessions = _sessions(treatment)
    efficacy = EfficacyParameters.for_condition(condition, overrides)
    weights = [efficacy.midazolam_factor if kind == "midazolam" else 1.0 for _, kind in sessions]
    x_session = session_expectancy(grid, [t for t, _ in sessions], weights)
    antidepressants = [i for i in treatment if isinstance(i, OralAntidepressant) and i.newly_started]
    starts = [t for t, _ in sessions] + [24.0 * a.start_day for a in antidepressants]
    y_sustained = rising(
        grid, min(starts) if starts else None, fixed("placebo", "tau_sustained_expectancy_days") * 24
    )
    z_ssri = rising(
        grid,
        24.0 * min(a.start_day for a in antidepressants) if antidepressants else None,
        fixed("ssri", "tau_onset_days") * 24.0,
    )
    modifier = None
    if crp_high is not None:
        modifier = np.where(crp_high, 1.0 - fixed("cascade", "inflammation_gain_reduction"), 1.0)
    remaining = remaining_fraction(
        states["ampa"],
        states["synapses"],
        x_session[None, :],
        y_sustained[None, :],
        z_ssri[None, :],
        efficacy,
        gains or PatientGains.typical(n),
        modifier,
    )
    base = {k: np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)) for k, v in baselines.items()}
    scale_scores = {s: score(remaining[:, out_idx], b, s) for s, b in base.items()}
    states["inflammation_modifier"] = np.broadcast_to(
        (modifier if modifier is not None else np.ones(n))[:, None], (n, grid.size)
    )

    adverse_p = AdverseParameters.default(overrides)
    auc_one = float(np.sum(_reference_occupancy()) * GRID_STEP_H)
    tolerance = tolerance_index(occupancy, GRID_STEP_H, adverse_p.tau_tolerance_h, auc_one)
    vit = {
        k: np.broadcast_to(np.asarray((vitals or {}).get(k, v), float), (n,))
        for k, v in DEFAULT_VITALS.items()
    }
    rises = haemodynamics(occupancy, adverse_p)
    adverse = {
        "cadss": cadss(occupancy, tolerance, adverse_p)[:, out_idx],
        "sbp_mmhg": (vit["systolic_mmhg"][:, None] + rises["sbp_rise_mmhg"])[:, out_idx],
        "dbp_mmhg": (vit["diastolic_mmhg"][:, None] + rises["dbp_rise_mmhg"])[:, out_idx],
        "heart_rate_bpm": (vit["heart_rate_bpm"][:, None] + rises["hr_rise_bpm"])[:, out_idx],
        "dissociation_tolerance": tolerance[:, out_idx],
    }
    session_rows = _session_rows(sessions, grid, occupancy, adverse_p)
    ketamine_days = [t / 24.0 for t, kind in sessions if kind in ("ketamine", "esketamine")]
    drug_names = sorted(_doses_by_drug(treatment))
    flags = exposure_flags(ketamine_days, " + ".join(drug_names) or "ketamine")
    return CourseResult(
        times_h=out_t,
        concentrations_ng_ml={k: v[:, out_idx] for k, v in conc.items()},
        free_brain_um={k: v[:, out_idx] for k, v in free.items()},
        states={k: np.asarray(v)[:, out_idx] for k, v in states.items()},
        scales=scale_scores,
        baselines=base,
        adverse=adverse,
        sessions=session_rows,
        flags=flags,
    )


def _session_rows(
    sessions: list[tuple[float, str]], grid: FloatArray, occupancy: FloatArray, p: AdverseParameters
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for t_s, kind in sessions:
        window = (grid >= t_s) & (grid <= t_s + ADVERSE_WINDOW_H)
        peak = np.max(occupancy[:, window], axis=1) if np.any(window) else np.zeros(occupancy.shape[0])
        i_peak = (
            np.argmax(occupancy[:, window], axis=1) if np.any(window) else np.zeros(occupancy.shape[0], int)
        )
        probs = session_probabilities(peak, p)
        rows.append(
            {
                "time_h": t_s,
                "kind": kind,
                "peak_occupancy": peak,
                "peak_time_after_start_h": grid[window][i_peak] - t_s if np.any(window) else peak * 0,
                **{f"p_{name}": value for name, value in probs.items()},
            }
        )
    return rows
