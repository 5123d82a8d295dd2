"""The whole chain for one patient or many, in two phases: :func:`expose` (dose → plasma →
brain → receptor → cascade) and :func:`outcomes` (→ symptom scores and side effects), for
callers that re-score one exposure many times (calibration, validation).  The one-call entry
point is :func:`ketasim.model.simulate_course`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from ketasim._memory import keep_freed_memory
from ketasim.covariates import Covariates
from ketasim.errors import DoseError
from ketasim.params import ParameterSet
from ketasim.pd._filters import Sampler, at_times, first_order, sampler, solver_grid
from ketasim.pd.adverse import (
    AdverseParameters,
    Flag,
    bp_log_sensitivity,
    cadss,
    carried_tolerance,
    dissociative_drive,
    exposure_flags,
    haemodynamics,
    session_probabilities,
    tolerance_index,
)
from ketasim.pd.cascade import CascadeParameters, readouts, reference_occupancy_auc, spine_stage, upstream_stage
from ketasim.pd.comparators import ComparatorSchedule, comparator_drive, schedules
from ketasim.pd.receptor import occupancy_of_load
from ketasim.pd.symptoms import (
    EfficacyParameters,
    PatientGains,
    drug_gain,
    entry_severity,
    remaining_fraction,
    rising,
    score,
    session_expectancy,
)
from ketasim.pk import PKResult, load_model
from ketasim.population import session_normals
from ketasim.regimens import (
    DOSE_FIELD_NAMES,
    Dose,
    KetamineSessions,
    OralAntidepressant,
    PlaceboSessions,
    TreatmentItem,
)
from ketasim.vocabulary import drug as drug_entry
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


DoseScale = Mapping[int, FloatArray]
"""Per treatment item (its index in the treatment) a (patients × sessions) multiplier of each
session's dose: a course that follows the patient (0 = the session is not given)."""


@dataclass(frozen=True)
class DrugCourse:
    """One drug's single dose records, in time order, with each patient's multiplier of each."""

    records: list[Dose]
    scale: FloatArray | None


def _doses_by_drug(treatment: Sequence[TreatmentItem], n: int, dose_scale: DoseScale | None) -> dict[str, DrugCourse]:
    records: dict[str, list[tuple[Dose, FloatArray]]] = {}
    for i, item in enumerate(treatment):
        if isinstance(item, KetamineSessions):
            scale = None if dose_scale is None else dose_scale.get(i)
            for k, dose in enumerate(item.doses()):
                column = np.ones(n) if scale is None else np.asarray(scale[:, k], dtype=np.float64)
                records.setdefault(item.drug, []).append((dose, column))
    out: dict[str, DrugCourse] = {}
    for drug, pairs in records.items():
        pairs = sorted(pairs, key=lambda pair: pair[0].time_h)
        scaled = dose_scale is not None and any(i in dose_scale for i in range(len(treatment)))
        matrix = np.stack([c for _, c in pairs], axis=1) if scaled else None
        out[drug] = DrugCourse([d for d, _ in pairs], matrix)
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


def session_kick(kind: str, midazolam_factor: float) -> float:
    """The expectancy kick of one clinic session, relative to an inert placebo session:
    ``midazolam_factor`` for an active placebo, 0 for a visit with no dose, else 1."""
    placebo = vocabulary().placebos.get(kind)
    if placebo is not None and not placebo.session_kick:
        return 0.0
    return midazolam_factor if is_active_placebo(kind) else 1.0


def sessions_given(treatment: Sequence[TreatmentItem], n: int, dose_scale: DoseScale | None) -> FloatArray | None:
    """(patients × clinic sessions, in :func:`clinic_sessions` order) 1 where the patient had
    the session, 0 where a course that follows the patient skipped it; None when all had all."""
    if not dose_scale:
        return None
    rows: list[tuple[float, str, FloatArray]] = []
    for i, item in enumerate(treatment):
        if isinstance(item, KetamineSessions):
            scale = dose_scale.get(i)
            kind = drug_entry(item.drug).session_kind
            for k, d in enumerate(item.days):
                given = np.ones(n) if scale is None else (scale[:, k] > 0).astype(np.float64)
                rows.append((24.0 * d + item.hour_of_day, kind, given))
        elif isinstance(item, PlaceboSessions):
            rows += [(24.0 * d + item.hour_of_day, item.placebo, np.ones(n)) for d in item.days]
    rows.sort(key=lambda r: (r[0], r[1]))
    return np.stack([r[2] for r in rows], axis=1) if rows else None


def check_treatment(treatment: Sequence[TreatmentItem], covariates: Covariates, prefix: str = "treatment") -> None:
    """Refuse doses outside clinical bounds for any patient: a :class:`DoseError` naming the
    regimen's field (``treatment[0].dose_mg``)."""
    for i, item in enumerate(treatment):
        if not isinstance(item, KetamineSessions):
            continue
        model = load_model(item.drug)
        try:
            model.check_doses(item.doses()[:1], covariates)
        except DoseError as err:
            raise err.renamed(DOSE_FIELD_NAMES, f"{prefix}[{i}]") from None
        steps = item.escalation_steps
        named = [("escalate" if len(steps) == 1 else f"escalate[{j}]", step) for j, step in enumerate(steps)]
        for name, rule in (*named, ("reduce_for", item.reduce_for)):
            if rule is None:
                continue
            try:  # a course that follows the patient may reach this dose: it must be allowed too
                model.check_doses(item.at_dose(rule.target).doses()[:1], covariates)
            except DoseError as err:
                raise DoseError(f"{prefix}[{i}].{name}.{rule.unit_field}", rule.target, err.allowed) from None


@dataclass(frozen=True)
class Exposure:
    """Phase 1 of a simulation: drug exposure and the cascade on the solver grid (patients × nodes).

    ``cascade``, ``tau_mood_h`` and ``tau_tolerance_h`` record the parameters it was computed
    with: :func:`outcomes` recomputes the cheap slow stages (spines, mood lag) when a
    parameter set changes only those.
    """

    grid_h: FloatArray
    concentrations_ng_ml: dict[str, FloatArray]
    """Plasma concentrations on the grid (at the output times when only the readouts are kept)."""
    pk: tuple[PKResult, ...]
    """Each drug's PK on the grid (at the output times when only the readouts are kept); unbound
    brain concentrations are read from it where needed."""
    states: dict[str, FloatArray]
    sessions: list[tuple[float, str]]
    session_given: FloatArray | None
    antidepressant_start_h: float | None
    drugs: tuple[str, ...]
    drug_shares: dict[str, FloatArray]
    """Each drug's share (0–1, per patient) of the course's NMDA blocking load Σ C/K_i, integrated over time."""
    comparators: tuple[ComparatorSchedule, ...]
    tolerance: FloatArray | None
    """The dissociation tolerance on the grid (None when only the readouts are kept)."""
    spines: dict[str, FloatArray]
    cascade: CascadeParameters
    tau_mood_h: float
    tau_tolerance_h: float
    readouts: dict[str, FloatArray] | None = None
    """With ``expose(..., readouts_only=True)``: every state at the output times only
    (patients × times), the grid keeping NMDA occupancy alone (``states``); else None."""
    readout_times_h: FloatArray | None = None

    @property
    def n(self) -> int:
        """Number of patients."""
        return int(self.states["nmda_occupancy"].shape[0])

    def tolerance_at(self, times_h: FloatArray) -> FloatArray:
        """The dissociation tolerance at ``times_h`` (patients × times)."""
        if self.tolerance is not None:
            return at_times(self.tolerance, self.grid_h, times_h)
        occupancy = self.states["nmda_occupancy"]
        auc = reference_occupancy_auc(self.cascade)
        return tolerance_index(occupancy, self.grid_h, self.tau_tolerance_h, auc, at=sampler(self.grid_h, times_h))

    def free_brain_um_at(self, sample: Sampler) -> dict[str, FloatArray]:
        """Unbound brain concentration (µM) of every species, summed over the drugs, at the
        output times of ``sample`` (patients × times)."""
        free: dict[str, FloatArray] = {}
        pick = sample if self.readouts is None else (lambda x: x)  # with readouts, PK is kept at the outputs
        for res in self.pk:
            for species, values in res.free_brain_um_from(pick).items():
                free[species] = free[species] + values if species in free else values
        return free


def expose(
    treatment: Sequence[TreatmentItem],
    covariates: Covariates,
    horizon_h: float,
    *,
    params: ParameterSet,
    pk_etas: Mapping[str, Mapping[str, FloatArray]] | None = None,
    output_times_h: Sequence[float] | FloatArray = (),
    dose_scale: DoseScale | None = None,
    readouts_only: bool = False,
) -> Exposure:
    """PK of every ketamine/esketamine dose, NMDA occupancy and the cascade, on a solver
    grid with nodes at every dose start and end and at ``output_times_h``.  Doses outside
    the clinical bounds raise :class:`ketasim.errors.DoseError`; ``dose_scale`` gives each
    patient's multiplier of each session's dose (a course that follows the patient; its
    doses are checked where it is decided).  With ``readouts_only`` the cascade, the mood
    lag and the tolerance are kept at ``output_times_h`` only, computed in one compiled
    sweep (:func:`ketasim.pd.cascade.readouts`) without full-grid arrays: the values are
    the same, and :func:`outcomes` then takes those output times and this parameter set."""
    check_treatment(treatment, covariates)
    keep_freed_memory()  # the full-grid arrays below are reused from chunk to chunk
    n = covariates.n
    doses = _doses_by_drug(treatment, n, dose_scale)
    windows = [
        w
        for drug, course in doses.items()
        for w in load_model(drug).input_windows(course.records, covariates, course.scale)
    ]
    extra = np.asarray(output_times_h, dtype=np.float64)
    if readouts_only and extra.size == 0:
        raise ValueError("readouts_only needs output_times_h")
    horizon_h = max(horizon_h, float(extra.max())) if extra.size else horizon_h  # never clip an output
    grid = solver_grid(windows, horizon_h, extra)
    cascade = CascadeParameters.from_params(params)
    conc: dict[str, FloatArray] = {}
    pk: list[PKResult] = []
    load_auc: dict[str, FloatArray] = {}
    total_load: FloatArray | None = None
    at = sampler(grid, extra) if readouts_only else None
    for drug, course in doses.items():
        etas = (pk_etas or {}).get(drug)
        model = load_model(drug)
        if at is None:
            res = model.simulate(
                course.records, grid, covariates, dict(etas) if etas else None, amounts=False, check=False,
                scale=course.scale,
            )  # fmt: skip
            load = res.blocking_load(dict(cascade.ki_um))
        else:  # the load on the grid, the concentrations at the output times only
            res, load = model.simulate_load(
                course.records, grid, covariates, dict(etas) if etas else None, dict(cascade.ki_um), extra, at,
                scale=course.scale,
            )  # fmt: skip
        conc.update(res.concentrations_ng_ml)
        pk.append(res)
        # one drug's share is 1: the loads are needed only to weigh two
        load_auc[drug] = np.asarray(np.trapezoid(load, grid, axis=1)) if len(doses) > 1 else np.ones(n)
        total_load = load if total_load is None else total_load + load
    occupancy = occupancy_of_load(total_load) if total_load is not None else np.zeros((n, grid.size))
    occupancy = np.ascontiguousarray(np.broadcast_to(occupancy, (n, grid.size)))
    tau_mood_h = params["cascade.tau_mood_onset_h"]
    tau_tolerance_h = AdverseParameters.from_params(params).tau_tolerance_h
    read: dict[str, FloatArray] | None = None
    tolerance: FloatArray | None = None
    if at is not None:
        followers = {
            "mood_drive_fast": ("ampa", tau_mood_h),
            "dissociation_tolerance": ("nmda_occupancy", tau_tolerance_h),
        }
        read = readouts(occupancy, grid, cascade, at, followers)
        read["dissociation_tolerance"] *= tau_tolerance_h / reference_occupancy_auc(cascade)
        states: dict[str, FloatArray] = {"nmda_occupancy": occupancy}
        spines: dict[str, FloatArray] = {}
    else:
        states = upstream_stage(occupancy, grid, cascade)
        spines = spine_stage(states["synaptic_proteins"], grid, cascade)
        states["mood_drive_fast"] = mood_drive(states["ampa"], grid, tau_mood_h)
        tolerance = tolerance_index(occupancy, grid, tau_tolerance_h, reference_occupancy_auc(cascade))
    antidepressants = [i for i in treatment if isinstance(i, OralAntidepressant) and i.newly_started]
    return Exposure(
        grid_h=grid,
        concentrations_ng_ml=conc,
        pk=tuple(pk),
        states=states,
        sessions=clinic_sessions(treatment),
        session_given=sessions_given(treatment, n, dose_scale),
        antidepressant_start_h=24.0 * min(a.start_day for a in antidepressants) if antidepressants else None,
        drugs=tuple(sorted(doses)),
        drug_shares=_shares(load_auc),
        comparators=schedules(treatment),
        tolerance=tolerance,
        spines=spines,
        cascade=cascade,
        tau_mood_h=tau_mood_h,
        tau_tolerance_h=tau_tolerance_h,
        readouts=read,
        readout_times_h=extra.copy() if read is not None else None,
    )


def _shares(load_auc: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    """Each drug's share of the summed blocking load (0 for every drug where there is none)."""
    if not load_auc:
        return {}
    total = np.sum(np.stack(list(load_auc.values())), axis=0)
    safe = np.where(total > 0.0, total, 1.0)
    return {drug: np.where(total > 0.0, auc / safe, 0.0) for drug, auc in load_auc.items()}


def mood_drive(ampa: FloatArray, grid_h: FloatArray, tau_mood_h: float) -> FloatArray:
    """The fast antidepressant drive: the AMPA index followed by mood with a lag τ_mood
    (calibrated; MECH skeleton: onset τ 1–4 h), dM/dt = (A − M)/τ_mood."""
    return first_order(ampa, tau_mood_h, grid_h)


def with_parameters(exposure: Exposure, params: ParameterSet) -> Exposure:
    """The exposure under ``params``: the spine stages, the mood lag and the dissociation
    tolerance recomputed when only they changed (cheap); ``ValueError`` when an upstream
    value changed (call :func:`expose`)."""
    cascade = CascadeParameters.from_params(params)
    tau_mood_h = params["cascade.tau_mood_onset_h"]
    tau_tolerance_h = AdverseParameters.from_params(params).tau_tolerance_h
    if (
        cascade == exposure.cascade
        and tau_mood_h == exposure.tau_mood_h
        and tau_tolerance_h == exposure.tau_tolerance_h
    ):
        return exposure
    if exposure.readouts is not None:
        raise ValueError("the exposure kept only its readouts, for other parameters: call expose() again")
    if cascade.upstream() != exposure.cascade.upstream():
        raise ValueError("the exposure was computed with other upstream parameters: call expose() again")
    states = dict(exposure.states)
    if tau_mood_h != exposure.tau_mood_h:
        states["mood_drive_fast"] = mood_drive(states["ampa"], exposure.grid_h, tau_mood_h)
    spines = exposure.spines
    if cascade != exposure.cascade:
        spines = spine_stage(states["synaptic_proteins"], exposure.grid_h, cascade)
    tolerance = exposure.tolerance
    if tau_tolerance_h != exposure.tau_tolerance_h or tolerance is None:
        tolerance = tolerance_index(
            states["nmda_occupancy"], exposure.grid_h, tau_tolerance_h, reference_occupancy_auc(cascade)
        )
    return replace(
        exposure,
        states=states,
        spines=spines,
        cascade=cascade,
        tau_mood_h=tau_mood_h,
        tolerance=tolerance,
        tau_tolerance_h=tau_tolerance_h,
    )


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
    sample = sampler(grid, out_t)
    read = _read(exposure, sample, out_t)
    occupancy = exposure.states["nmda_occupancy"]
    gains = gains or PatientGains.typical(n)

    sessions = exposure.sessions
    efficacy = EfficacyParameters.from_params(params, condition)
    weights: FloatArray = np.array([session_kick(k, efficacy.midazolam_factor) for _, k in sessions])
    if exposure.session_given is not None:
        weights = exposure.session_given * weights[None, :]
    x_session = np.atleast_2d(session_expectancy(out_t, [t for t, _ in sessions], weights, efficacy.tau_session_h))
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
    per_patient = drug_gain(exposure.drug_shares, efficacy, n)
    if modifier is not None:
        per_patient = per_patient * modifier
    remaining = remaining_fraction(
        read.pop("mood_drive_fast"),
        read["synapses"],
        x_session,
        y_sustained[None, :],
        z_ssri,
        efficacy,
        gains,
        per_patient,
        comparator_drive(
            exposure.comparators,
            out_t,
            gains.z_comparator if gains.z_comparator is not None else np.zeros(n),
            efficacy.residual_sd,
            efficacy.ssri_omega,
        ),
    )
    base = {k: np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)) for k, v in baselines.items()}
    scale_scores = {s: score(remaining, entry_severity(b, gains.eta_entry), s) for s, b in base.items()}
    tol_out = read.pop("dissociation_tolerance")
    out_states = read
    out_states["inflammation_modifier"] = np.broadcast_to(
        (modifier if modifier is not None else np.ones(n))[:, None], (n, out_t.size)
    )

    adverse_p = AdverseParameters.from_params(params)
    vit = {k: np.broadcast_to(np.asarray((vitals or {}).get(k, v), float), (n,)) for k, v in DEFAULT_VITALS.items()}
    occ_out = out_states["nmda_occupancy"]
    session_z = None if gains.bp_session_keys is None else session_normals(gains.bp_session_keys, len(sessions))
    eta_bp = bp_log_sensitivity(gains.eta_bp, session_z, gains.bp_session_omega, [t for t, _ in sessions], out_t)
    rises = haemodynamics(occ_out, adverse_p, eta_bp)
    drive = dissociative_drive(occupancy, grid, adverse_p, at=sample)
    starts_h = np.array([t for t, _ in sessions], dtype=np.float64)
    carried = carried_tolerance(exposure.tolerance_at(starts_h), starts_h, out_t, adverse_p.tau_tolerance_h)
    adverse = {
        "cadss": cadss(drive, carried, adverse_p, gains.eta_dissociation),
        "sbp_mmhg": vit["systolic_mmhg"][:, None] + rises["sbp_rise_mmhg"],
        "dbp_mmhg": vit["diastolic_mmhg"][:, None] + rises["dbp_rise_mmhg"],
        "heart_rate_bpm": vit["heart_rate_bpm"][:, None] + rises["hr_rise_bpm"],
        "dissociation_tolerance": tol_out,
        "dissociative_drive": drive,
    }
    drug_sessions = {drug_entry(d).session_kind for d in exposure.drugs}
    ketamine_days = [t / 24.0 for t, kind in sessions if kind in drug_sessions]
    flags = exposure_flags(ketamine_days, " + ".join(exposure.drugs) or "ketamine", params)
    return CourseResult(
        times_h=out_t,
        concentrations_ng_ml=(
            dict(exposure.concentrations_ng_ml)
            if exposure.readouts is not None
            else {k: sample(v) for k, v in exposure.concentrations_ng_ml.items()}
        ),
        free_brain_um=exposure.free_brain_um_at(sample),
        states=out_states,
        scales=scale_scores,
        baselines=base,
        adverse=adverse,
        sessions=session_peaks(sessions, grid, occupancy, adverse_p),
        flags=flags,
    )


def _read(exposure: Exposure, sample: Sampler, out_t: FloatArray) -> dict[str, FloatArray]:
    """Every state, the mood lag and the tolerance at the output times (patients × times)."""
    if exposure.readouts is not None:
        kept = exposure.readout_times_h
        if kept is None or kept.shape != out_t.shape or not np.array_equal(kept, out_t):
            raise ValueError("the exposure kept its readouts at other output times: call expose() again")
        return dict(exposure.readouts)
    read = {k: sample(np.asarray(v)) for k, v in exposure.states.items()}
    read.update({k: sample(v) for k, v in exposure.spines.items()})
    assert exposure.tolerance is not None  # kept whenever the readouts are not
    read["dissociation_tolerance"] = sample(exposure.tolerance)
    return read


def session_peaks(
    sessions: list[tuple[float, str]], grid: FloatArray, occupancy: FloatArray, p: AdverseParameters
) -> list[SessionPeaks]:
    """Each session's peak occupancy (within :data:`ADVERSE_WINDOW_H`) and event probabilities."""
    rows: list[SessionPeaks] = []
    n = occupancy.shape[0]
    for t_s, kind in sessions:
        lo = int(np.searchsorted(grid, t_s, side="left"))
        hi = int(np.searchsorted(grid, t_s + ADVERSE_WINDOW_H, side="right"))
        if hi > lo:  # the nodes in [t_s, t_s + window]
            window = occupancy[:, lo:hi]
            at = np.argmax(window, axis=1)
            peak = window[np.arange(n), at]
            when = grid[lo:hi][at] - t_s
        else:
            peak, when = np.zeros(n), np.zeros(n)
        rows.append(SessionPeaks(t_s, kind, peak, when, session_probabilities(peak, p)))
    return rows
