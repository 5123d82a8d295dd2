"""One call for the whole chain: :func:`simulate_course` — exposure, the decisions of any
course that follows the patient (:mod:`ketasim.model.adaptive`), then the outcomes."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from ketasim.covariates import Covariates
from ketasim.errors import InputError
from ketasim.model.adaptive import decide_sessions
from ketasim.model.course import CourseResult, expose, outcomes
from ketasim.params import ParameterSet, default_parameters
from ketasim.pd.symptoms import EfficacyParameters, PatientGains
from ketasim.regimens import TreatmentItem
from ketasim.vocabulary import condition as condition_entry
from ketasim.vocabulary import scale as scale_entry

FloatArray = NDArray[np.float64]


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
    effects (default: the typical patient of each patient's age).  A course that follows the
    patient (``stop_when``, ``escalate``, ``reduce_for``, ``max_sessions``) is decided on the
    first scale of ``baselines``, as modelled (no rater noise).  Bad input raises :class:`ketasim.errors.InputError`
    before anything is computed.
    """
    p = params or default_parameters()
    check_course_inputs(covariates, condition, baselines, horizon_h, output_times_h)
    out_t = () if output_times_h is None else output_times_h
    rated = {k: np.broadcast_to(np.asarray(v, dtype=np.float64), (covariates.n,)) for k, v in baselines.items()}
    if gains is None:
        gains = PatientGains.typical_at_age(covariates.age_years, EfficacyParameters.from_params(p, condition))
    decided = decide_sessions(
        treatment, covariates, condition, rated, _rated_scale(treatment, rated), p, pk_etas=pk_etas, gains=gains
    )
    exposure = expose(
        treatment, covariates, horizon_h, params=p, pk_etas=pk_etas, output_times_h=out_t, dose_scale=decided,
        readouts_only=np.size(out_t) > 0,  # the cascade kept at the output times only (the fused sweep)
    )  # fmt: skip
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


def _rated_scale(treatment: Sequence[TreatmentItem], baselines: Mapping[str, FloatArray]) -> str:
    """The scale a course that follows the patient is rated on: its stop rule's, else the
    first scale with a baseline."""
    for i, item in enumerate(treatment):
        rule = getattr(item, "stop_when", None)
        if rule is not None and rule.scale is not None:
            if rule.scale not in baselines:
                raise InputError.one(
                    f"treatment[{i}].stop_when.scale",
                    f"{rule.scale!r} has no baseline; give baselines.{rule.scale} or rate on {', '.join(baselines)}",
                )
            return str(rule.scale)
    return next(iter(baselines))
