"""The whole chain for one patient or many: dose → plasma → brain → receptor → cascade →
symptom scores and side effects.  One entry point, :func:`simulate_course`; for callers that
re-score one exposure many times (calibration, validation), its two phases :func:`expose`
and :func:`outcomes`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from ketasim.covariates import Covariates
from ketasim.errors import DoseError, InputError
from ketasim.params import ParameterSet, default_parameters
from ketasim.pd._filters import at_times, first_order, solver_grid
from ketasim.pd.adverse import (
    AdverseParameters,
    Flag,
    cadss,
    exposure_flags,
    haemodynamics,
    session_probabilities,
    tolerance_index,
)
from ketasim.pd.cascade import CascadeParameters, reference_occupancy_auc, spine_stage, upstream_stage
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
from ketasim.regimens import (
    DOSE_FIELD_NAMES,
    Dose,
    KetamineSessions,
    OralAntidepressant,
    PlaceboSessions,
    TreatmentItem,
)
from ketasim.vocabulary import condition as condition_entry
from ketasim.vocabulary import drug as drug_entry
from ketasim.vocabulary import scale as scale_entry
from ketasim.vocabulary import vocabulary

FloatArray = NDArray[np.float64]
DEFAULT_VITALS = {"systolic_mmhg": 120.0, "diastolic_mmhg": 80.0, "heart_rate_bpm": 70.0}
ADVERSE_WINDOW_H = 4.0
DEFAULT_OUTPUT_STEP_H = 0.5


@dataclass(frozen=True)
class SessionPeaks:
    """One clinic session for P patients: its peak NMDA occupancy (within 4 h), when it
    peaks, and each adverse event's probability at that session."""

    time_h: float
    kind: str
    peak_occupancy: FloatArray
    peak_time_after_start_h: FloatArray
    event_probability: dict[str, FloatArray]


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
    sessions: list[SessionPeaks] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)


def _doses_by_drug(treatment: Sequence[TreatmentItem]) -> dict[str, list[Dose]]:
    out: dict[str, list[Dose]] = {}
    for item in treatment:
        if isinstance(item, KetamineSessions):
            out.setdefault(item.drug, []).extend(item.doses())
    return out


def clinic_sessions(treatment: Sequence[TreatmentItem]) -> list[tuple[float, str]]:
    """(time_h, kind) of every clinic session; kind: a drug's session kind (``ketamine``,
    ``esketamine``) or a placebo kind (``saline``, ``midazolam``)."""
    sessions: list[tuple[float, str]] = []
    for item in treatment:
        if isinstance(item, KetamineSessions):
            kind = drug_entry(item.drug).session_kind
            sessions += [(24.0 * d + item.hour_of_day, kind) for d in item.days]
        elif isinstance(item, PlaceboSessions):
            sessions += [(24.0 * d + item.hour_of_day, item.placebo) for d in item.days]
    return sorted(sessions)


def is_active_placebo(kind: str) -> bool:
    """True for a session of an active placebo (midazolam), whose expectancy effect is
    ``midazolam_factor`` times an inert one's."""
    placebo = vocabulary().placebos.get(kind)
    return placebo is not None and placebo.active


def check_treatment(treatment: Sequence[TreatmentItem], covariates: Covariates, prefix: str = "treatment") -> None:
    """Refuse doses outside clinical bounds for any patient: a :class:`DoseError` naming the
    regimen's field (``treatment[0].dose_mg``)."""
    for i, item in enumerate(treatment):
        if not isinstance(item, KetamineSessions):
            continue
        try:
            load_model(item.drug).check_doses(item.doses()[:1], covariates)
        except DoseError as err:
            raise err.renamed(DOSE_FIELD_NAMES, f"{prefix}[{i}]") from None


@dataclass(frozen=True)
class Exposure:
    """Phase 1 of a simulation: drug exposure and the cascade on the solver grid (patients × nodes).

    ``cascade``, ``tau_mood_h`` and ``tau_tolerance_h`` record the parameters it was computed
    with: :func:`outcomes` recomputes the cheap slow stages (spines, mood lag) when a
    parameter set changes only those.
    """

    grid_h: FloatArray
    concentrations_ng_ml: dict[str, FloatArray]
    free_brain_um: dict[str, FloatArray]
    states: dict[str, FloatArray]
    sessions: list[tuple[float, str]]
    antidepressant_start_h: float | None
    drugs: tuple[str, ...]
    tolerance: FloatArray
    spines: dict[str, FloatArray]
    cascade: CascadeParameters
    tau_mood_h: float
    tau_tolerance_h: float

    @property
    def n(self) -> int:
        """Number of patients."""
        return int(self.states["nmda_occupancy"].shape[0])


def expose(
    treatment: Sequence[TreatmentItem],
    covariates: Covariates,
    horizon_h: float,
    *,
    params: ParameterSet,
    pk_etas: Mapping[str, Mapping[str, FloatArray]] | None = None,
    output_times_h: Sequence[float] | FloatArray = (),
) -> Exposure:
    """PK of every ketamine/esketamine dose, NMDA occupancy and the cascade, on a solver
    grid with nodes at every dose start and end and at ``output_times_h``.  Doses outside
    the clinical bounds raise :class:`ketasim.errors.DoseError`."""
    check_treatment(treatment, covariates)
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
        res = load_model(drug).simulate(
            records, grid, covariates, dict(etas) if etas else None, amounts=False, check=False
        )
        conc.update(res.concentrations_ng_ml)
        for species, values in res.free_brain_um.items():
            free[species] = free.get(species, 0.0) + values
    cascade = CascadeParameters.from_params(params)
    occupancy = nmda_occupancy(free, dict(cascade.ki_um)) if free else np.zeros((n, grid.size))
    states = upstream_stage(np.broadcast_to(occupancy, (n, grid.size)), grid, cascade)
    spines = spine_stage(states["synaptic_proteins"], grid, cascade)
    tau_mood_h = params["tau_mood_onset_h"]
    states["mood_drive_fast"] = mood_drive(states["ampa"], grid, tau_mood_h)
    antidepressants = [i for i in treatment if isinstance(i, OralAntidepressant) and i.newly_started]
    tau_tolerance_h = AdverseParameters.from_params(params).tau_tolerance_h
    return Exposure(
        grid_h=grid,
        concentrations_ng_ml=conc,
        free_brain_um=free,
        states=states,
        sessions=clinic_sessions(treatment),
        antidepressant_start_h=24.0 * min(a.start_day for a in antidepressants) if antidepressants else None,
        drugs=tuple(sorted(doses)),
        tolerance=tolerance_index(states["nmda_occupancy"], grid, tau_tolerance_h, reference_occupancy_auc(cascade)),
        spines=spines,
        cascade=cascade,
        tau_mood_h=tau_mood_h,
        tau_tolerance_h=tau_tolerance_h,
    )


def mood_drive(ampa: FloatArray, grid_h: FloatArray, tau_mood_h: float) -> FloatArray:
    """The fast antidepressant drive: the AMPA index followed by mood with a lag τ_mood
    (calibrated; MECH skeleton: onset τ 1–4 h), dM/dt = (A − M)/τ_mood."""
    return first_order(ampa, tau_mood_h, grid_h)


def with_parameters(exposure: Exposure, params: ParameterSet) -> Exposure:
    """The exposure under ``params``: the spine stages and the mood lag recomputed when only
    they changed (cheap); ``ValueError`` when an upstream value changed (call :func:`expose`)."""
    cascade = CascadeParameters.from_params(params)
    tau_mood_h = params["tau_mood_onset_h"]
    if cascade == exposure.cascade and tau_mood_h == exposure.tau_mood_h:
        return exposure
    if (
        cascade.upstream() != exposure.cascade.upstream()
        or AdverseParameters.from_params(params).tau_tolerance_h != exposure.tau_tolerance_h
    ):
        raise ValueError("the exposure was computed with other upstream parameters: call expose() again")
    states = dict(exposure.states)
    if tau_mood_h != exposure.tau_mood_h:
        states["mood_drive_fast"] = mood_drive(states["ampa"], exposure.grid_h, tau_mood_h)
    spines = exposure.spines
    if cascade != exposure.cascade:
        spines = spine_stage(states["synaptic_proteins"], exposure.grid_h, cascade)
    return replace(exposure, states=states, spines=spines, cascade=cascade, tau_mood_h=tau_mood_h)


def outcomes(
    exposure: Exposure,
    condition: str,
    baselines: Mapping[str, Sequence[float] | FloatArray],
    output_times_h: Sequence[float] | FloatArray | None = None,
    *,
    params: ParameterSet,
    gains: PatientGains | None = None,
    vitals: Mapping[str, FloatArray] | None = None,
    crp_high: NDArray[np.bool_] | None = None,
) -> CourseResult:
    """Phase 2: symptoms and side effects from the exposure (cheap; the calibration reruns it)."""
    exposure = with_parameters(exposure, params)
    grid = exposure.grid_h
    n = exposure.n
    horizon_h = float(grid[-1])
    out_t = (
        np.arange(0.0, horizon_h + 1e-9, DEFAULT_OUTPUT_STEP_H)
        if output_times_h is None
        else np.asarray(output_times_h, float)
    )
    states = exposure.states
    slow = {k: at_times(v, grid, out_t) for k, v in exposure.spines.items()}
    occupancy = states["nmda_occupancy"]
    gains = gains or PatientGains.typical(n)

    sessions = exposure.sessions
    efficacy = EfficacyParameters.from_params(params, condition)
    weights = [efficacy.midazolam_factor if is_active_placebo(kind) else 1.0 for _, kind in sessions]
    x_session = session_expectancy(out_t, [t for t, _ in sessions], weights, efficacy.tau_session_h)
    starts = [t for t, _ in sessions] + (
        [exposure.antidepressant_start_h] if exposure.antidepressant_start_h is not None else []
    )
    y_sustained = rising(out_t, min(starts) if starts else None, efficacy.tau_sustained_h)
    if gains.eta_ssri_onset is not None:
        onset_h = efficacy.tau_ssri_onset_h * np.exp(gains.eta_ssri_onset)
        z_ssri = rising(out_t, exposure.antidepressant_start_h, onset_h)
    else:
        z_ssri = rising(out_t, exposure.antidepressant_start_h, efficacy.tau_ssri_onset_h)[None, :]
    modifier = None
    if crp_high is not None:
        modifier = np.where(crp_high, 1.0 - efficacy.inflammation_reduction, 1.0)
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

    adverse_p = AdverseParameters.from_params(params)
    vit = {k: np.broadcast_to(np.asarray((vitals or {}).get(k, v), float), (n,)) for k, v in DEFAULT_VITALS.items()}
    occ_out = out_states["nmda_occupancy"]
    tol_out = at_times(exposure.tolerance, grid, out_t)
    rises = haemodynamics(occ_out, adverse_p)
    adverse = {
        "cadss": cadss(occ_out, tol_out, adverse_p, gains.eta_dissociation),
        "sbp_mmhg": vit["systolic_mmhg"][:, None] + rises["sbp_rise_mmhg"],
        "dbp_mmhg": vit["diastolic_mmhg"][:, None] + rises["dbp_rise_mmhg"],
        "heart_rate_bpm": vit["heart_rate_bpm"][:, None] + rises["hr_rise_bpm"],
        "dissociation_tolerance": tol_out,
    }
    drug_sessions = {drug_entry(d).session_kind for d in exposure.drugs}
    ketamine_days = [t / 24.0 for t, kind in sessions if kind in drug_sessions]
    flags = exposure_flags(ketamine_days, " + ".join(exposure.drugs) or "ketamine", params)
    return CourseResult(
        times_h=out_t,
        concentrations_ng_ml={k: at_times(v, grid, out_t) for k, v in exposure.concentrations_ng_ml.items()},
        free_brain_um={k: at_times(v, grid, out_t) for k, v in exposure.free_brain_um.items()},
        states=out_states,
        scales=scale_scores,
        baselines=base,
        adverse=adverse,
        sessions=session_peaks(sessions, grid, occupancy, adverse_p),
        flags=flags,
    )


def check_course_inputs(
    covariates: Covariates,
    condition: str,
    baselines: Mapping[str, Sequence[float] | FloatArray],
    horizon_h: float,
    output_times_h: Sequence[float] | FloatArray | None,
) -> None:
    """Refuse what :func:`simulate_course` cannot simulate, naming the argument."""
    covariates.check()
    try:
        allowed = condition_entry(condition).scales
    except ValueError as err:
        raise InputError.one("condition", str(err)) from None
    if not baselines:
        raise InputError.one("baselines", f"give a baseline on a scale of {condition}: {', '.join(allowed)}")
    for name, values in baselines.items():
        if name not in allowed:
            raise InputError.one(f"baselines.{name}", f"not a scale of {condition}; allowed: {', '.join(allowed)}")
        v = np.asarray(values, dtype=np.float64)
        s = scale_entry(name)
        if v.size not in (1, covariates.n) or not np.all(np.isfinite(v)) or np.any((v < s.min) | (v > s.max)):
            raise InputError.one(
                f"baselines.{name}", f"one finite score per patient within {s.min:g}–{s.max:g} is allowed"
            )
    if not (isinstance(horizon_h, int | float) and math.isfinite(horizon_h) and 0 < horizon_h <= 24.0 * 3650):
        raise InputError.one("horizon_h", f"{horizon_h!r} is not allowed: a number of hours in (0, 87600]")
    if output_times_h is not None:
        t = np.asarray(output_times_h, dtype=np.float64)
        if t.ndim != 1 or not np.all(np.isfinite(t)) or np.any(t < 0) or np.any(np.diff(t) < 0):
            raise InputError.one("output_times_h", "finite, non-decreasing times ≥ 0 h are allowed")


def simulate_course(
    treatment: Sequence[TreatmentItem],
    covariates: Covariates,
    condition: str,
    baselines: Mapping[str, Sequence[float] | FloatArray],
    horizon_h: float,
    output_times_h: Sequence[float] | FloatArray | None = None,
    *,
    params: ParameterSet | None = None,
    pk_etas: Mapping[str, Mapping[str, FloatArray]] | None = None,
    gains: PatientGains | None = None,
    vitals: Mapping[str, FloatArray] | None = None,
    crp_high: NDArray[np.bool_] | None = None,
) -> CourseResult:
    """Simulate a treatment course for every patient in ``covariates``.

    ``baselines`` maps scale → baseline score per patient; ``output_times_h`` default to
    every 30 min to ``horizon_h``; ``params`` is the parameter set (default: the packaged
    one); ``pk_etas`` maps drug → PK random effects; ``gains`` are the symptom-layer random
    effects (default: typical patient).  Bad input raises :class:`ketasim.errors.InputError`
    before anything is computed.
    """
    p = params or default_parameters()
    check_course_inputs(covariates, condition, baselines, horizon_h, output_times_h)
    out_t = () if output_times_h is None else output_times_h
    exposure = expose(treatment, covariates, horizon_h, params=p, pk_etas=pk_etas, output_times_h=out_t)
    return outcomes(
        exposure,
        condition,
        baselines,
        output_times_h,
        params=p,
        gains=gains,
        vitals=vitals,
        crp_high=crp_high,
    )


def session_peaks(
    sessions: list[tuple[float, str]], grid: FloatArray, occupancy: FloatArray, p: AdverseParameters
) -> list[SessionPeaks]:
    """Each session's peak occupancy (within :data:`ADVERSE_WINDOW_H`) and event probabilities."""
    rows: list[SessionPeaks] = []
    n = occupancy.shape[0]
    for t_s, kind in sessions:
        window = (grid >= t_s) & (grid <= t_s + ADVERSE_WINDOW_H)
        if np.any(window):
            peak = np.max(occupancy[:, window], axis=1)
            when = grid[window][np.argmax(occupancy[:, window], axis=1)] - t_s
        else:
            peak, when = np.zeros(n), np.zeros(n)
        rows.append(SessionPeaks(t_s, kind, peak, when, session_probabilities(peak, p)))
    return rows
