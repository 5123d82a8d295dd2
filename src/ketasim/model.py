"""The whole chain for one patient or many: dose → plasma → brain → receptor → cascade →
symptom scores and side effects.  One entry point, :func:`simulate_course`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ketasim.pd._filters import at_times, first_order, solver_grid
from ketasim.pd._params import calibrated, fixed
from ketasim.pd.adverse import (
    AdverseParameters,
    cadss,
    exposure_flags,
    haemodynamics,
    session_probabilities,
    tolerance_index,
)
from ketasim.pd.cascade import (
    CascadeParameters,
    reference_occupancy_auc,
    spine_stage,
    upstream_stage,
)
from ketasim.pd.receptor import nmda_occupancy
from ketasim.pd.symptoms import (
    EfficacyParameters,
    PatientGains,
    remaining_fraction,
    rising,
    score,
    session_expectancy,
)
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


def mood_drive(ampa: FloatArray, grid_h: FloatArray, overrides: dict[str, float] | None = None) -> FloatArray:
    """The fast antidepressant drive: the AMPA index followed by mood with a lag τ_mood
    (calibrated; MECH skeleton: onset τ 1–4 h), dM/dt = (A − M)/τ_mood."""
    tau_h = {**calibrated().values, **(overrides or {})}["tau_mood_onset_h"]
    return first_order(ampa, tau_h, grid_h)


@dataclass(frozen=True)
class Exposure:
    """Phase 1 of a simulation: drug exposure and the cascade on the solver grid (patients × nodes)."""

    grid_h: FloatArray
    concentrations_ng_ml: dict[str, FloatArray]
    free_brain_um: dict[str, FloatArray]
    states: dict[str, FloatArray]
    sessions: list[tuple[float, str]]
    antidepressant_start_h: float | None
    drugs: tuple[str, ...]
    tolerance: FloatArray
    spines: dict[str, FloatArray]

    @property
    def n(self) -> int:
        """Number of patients."""
        return int(self.states["nmda_occupancy"].shape[0])


def expose(
    treatment: Sequence[TreatmentItem],
    covariates: Covariates,
    horizon_h: float,
    *,
    pk_etas: Mapping[str, Mapping[str, FloatArray]] | None = None,
    overrides: dict[str, float] | None = None,
    output_times_h: Sequence[float] | FloatArray = (),
) -> Exposure:
    """PK of every ketamine/esketamine dose, NMDA occupancy and the cascade, on a solver
    grid with nodes at every dose start and end and at ``output_times_h``."""
    n = covariates.n
    doses = _doses_by_drug(treatment)
    windows = [w for drug, records in doses.items() for w in load_model(drug).input_windows(records, covariates)]
    extra = np.asarray(output_times_h, dtype=np.float64)
    horizon_h = max(horizon_h, float(extra.max())) if extra.size else horizon_h  # never clip an output
    grid = solver_grid(windows, horizon_h, extra)
    conc: dict[str, FloatArray] = {}
    free: dict[str, FloatArray] = {}
    for drug, records in doses.items():
        etas = (pk_etas or {}).get(drug)
        res = load_model(drug).simulate(records, grid, covariates, dict(etas) if etas else None, amounts=False)
        conc.update(res.concentrations_ng_ml)
        for species, values in res.free_brain_um.items():
            free[species] = free.get(species, 0.0) + values
    occupancy = nmda_occupancy(free) if free else np.zeros((n, grid.size))
    cascade_params = CascadeParameters.default(overrides)
    states = upstream_stage(np.broadcast_to(occupancy, (n, grid.size)), grid, cascade_params)
    spines = spine_stage(states["synaptic_proteins"], grid, cascade_params)
    states["mood_drive_fast"] = mood_drive(states["ampa"], grid, overrides)
    antidepressants = [i for i in treatment if isinstance(i, OralAntidepressant) and i.newly_started]
    tau_tolerance_h = fixed("adverse", "tau_tolerance_days") * 24.0
    return Exposure(
        grid_h=grid,
        concentrations_ng_ml=conc,
        free_brain_um=free,
        states=states,
        sessions=_sessions(treatment),
        antidepressant_start_h=24.0 * min(a.start_day for a in antidepressants) if antidepressants else None,
        drugs=tuple(sorted(doses)),
        tolerance=tolerance_index(states["nmda_occupancy"], grid, tau_tolerance_h, reference_occupancy_auc()),
        spines=spines,
    )


def outcomes(
    exposure: Exposure,
    condition: str,
    baselines: Mapping[str, Sequence[float] | FloatArray],
    output_times_h: Sequence[float] | FloatArray | None = None,
    *,
    gains: PatientGains | None = None,
    vitals: Mapping[str, FloatArray] | None = None,
    crp_high: NDArray[np.bool_] | None = None,
    overrides: dict[str, float] | None = None,
) -> CourseResult:
    """Phase 2: symptoms and side effects from the exposure (cheap; the calibration reruns it)."""
    grid = exposure.grid_h
    n = exposure.n
    horizon_h = float(grid[-1])
    out_t = np.arange(0.0, horizon_h + 1e-9, 0.5) if output_times_h is None else np.asarray(output_times_h, float)
    states = dict(exposure.states)
    if overrides and "tau_mood_onset_h" in overrides:
        states["mood_drive_fast"] = mood_drive(states["ampa"], grid, overrides)
    spines = exposure.spines
    if overrides and {"spine_stable_fraction", "tau_spine_stable_days"} & set(overrides):
        spines = spine_stage(states["synaptic_proteins"], grid, CascadeParameters.default(overrides))
    slow = {k: at_times(v, grid, out_t) for k, v in spines.items()}
    occupancy = states["nmda_occupancy"]
    gains = gains or PatientGains.typical(n)

    sessions = exposure.sessions
    efficacy = EfficacyParameters.for_condition(condition, overrides)
    weights = [efficacy.midazolam_factor if kind == "midazolam" else 1.0 for _, kind in sessions]
    x_session = session_expectancy(out_t, [t for t, _ in sessions], weights)
    starts = [t for t, _ in sessions] + (
        [exposure.antidepressant_start_h] if exposure.antidepressant_start_h is not None else []
    )
    y_sustained = rising(out_t, min(starts) if starts else None, fixed("placebo", "tau_sustained_expectancy_days") * 24)
    tau_ssri_h = fixed("ssri", "tau_onset_days") * 24.0
    if gains.eta_ssri_onset is not None:
        z_ssri = rising(out_t, exposure.antidepressant_start_h, tau_ssri_h * np.exp(gains.eta_ssri_onset))
    else:
        z_ssri = rising(out_t, exposure.antidepressant_start_h, tau_ssri_h)[None, :]
    modifier = None
    if crp_high is not None:
        modifier = np.where(crp_high, 1.0 - fixed("cascade", "inflammation_gain_reduction"), 1.0)
    remaining = remaining_fraction(
        at_times(states["mood_drive_fast"], grid, out_t),
        slow["synapses"],
        x_session[None, :],
        y_sustained[None, :],
        z_ssri,
        efficacy,
        gains,
        modifier,
    )
    base = {k: np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)) for k, v in baselines.items()}
    scale_scores = {s: score(remaining, b, s) for s, b in base.items()}
    out_states = {k: at_times(np.asarray(v), grid, out_t) for k, v in states.items() if k != "mood_drive_fast"}
    out_states.update(slow)
    out_states["inflammation_modifier"] = np.broadcast_to(
        (modifier if modifier is not None else np.ones(n))[:, None], (n, out_t.size)
    )

    adverse_p = AdverseParameters.default(overrides)
    tolerance = exposure.tolerance
    vit = {k: np.broadcast_to(np.asarray((vitals or {}).get(k, v), float), (n,)) for k, v in DEFAULT_VITALS.items()}
    occ_out = out_states["nmda_occupancy"]
    tol_out = at_times(tolerance, grid, out_t)
    rises = haemodynamics(occ_out, adverse_p)
    adverse = {
        "cadss": cadss(occ_out, tol_out, adverse_p, gains.eta_dissociation),
        "sbp_mmhg": vit["systolic_mmhg"][:, None] + rises["sbp_rise_mmhg"],
        "dbp_mmhg": vit["diastolic_mmhg"][:, None] + rises["dbp_rise_mmhg"],
        "heart_rate_bpm": vit["heart_rate_bpm"][:, None] + rises["hr_rise_bpm"],
        "dissociation_tolerance": tol_out,
    }
    ketamine_days = [t / 24.0 for t, kind in sessions if kind in ("ketamine", "esketamine")]
    flags = exposure_flags(ketamine_days, " + ".join(exposure.drugs) or "ketamine")
    return CourseResult(
        times_h=out_t,
        concentrations_ng_ml={k: at_times(v, grid, out_t) for k, v in exposure.concentrations_ng_ml.items()},
        free_brain_um={k: at_times(v, grid, out_t) for k, v in exposure.free_brain_um.items()},
        states=out_states,
        scales=scale_scores,
        baselines=base,
        adverse=adverse,
        sessions=_session_rows(sessions, grid, occupancy, adverse_p),
        flags=flags,
    )


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
    out_t = () if output_times_h is None else output_times_h
    exposure = expose(treatment, covariates, horizon_h, pk_etas=pk_etas, overrides=overrides, output_times_h=out_t)
    return outcomes(
        exposure,
        condition,
        baselines,
        output_times_h,
        gains=gains,
        vitals=vitals,
        crp_high=crp_high,
        overrides=overrides,
    )


def _session_rows(
    sessions: list[tuple[float, str]], grid: FloatArray, occupancy: FloatArray, p: AdverseParameters
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for t_s, kind in sessions:
        window = (grid >= t_s) & (grid <= t_s + ADVERSE_WINDOW_H)
        peak = np.max(occupancy[:, window], axis=1) if np.any(window) else np.zeros(occupancy.shape[0])
        i_peak = np.argmax(occupancy[:, window], axis=1) if np.any(window) else np.zeros(occupancy.shape[0], int)
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
