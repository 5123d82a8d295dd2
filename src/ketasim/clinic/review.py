"""Course review from the patient's observed scores: continue, review or stop, with reasons
and sources.

The rules are data (``data/clinic/review.yaml``): each looks at the latest observed score on
the forecast's scale — its improvement from baseline — and the number of planned sessions
given before it (a score on a session day is a pre-dose rating).  The status is the most
severe of the rules that fire; the reasons and sources are those of the rules at that status.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import BaseModel, Field

from ketasim.clinic._data import clinic_file
from ketasim.clinic.dosing import Regimen
from ketasim.clinic.patient import PatientFile
from ketasim.schema import Count, Real, StrictModel
from ketasim.vocabulary import RouteName, scale

Status = Literal["continue", "review", "stop"]
SEVERITY: dict[str, int] = {"continue": 0, "review": 1, "stop": 2}
Threshold = Real | Literal["partial", "response"]
Sessions = Count | Literal["induction"]


class ReviewRule(StrictModel):
    """One course review rule (``data/clinic/review.yaml``)."""

    id: str = Field(min_length=1, max_length=100)
    routes: tuple[RouteName, ...] = Field(min_length=1)
    after_sessions: Sessions
    until_sessions: Sessions | None = None
    improvement_below: Threshold
    improvement_at_least: Threshold | None = None
    status: Status
    reason: str = Field(max_length=2000)
    source: str = Field(max_length=2000)


class _Source(StrictModel):
    value: Real = Field(gt=0, lt=1)
    source: str


class ReviewRules(StrictModel):
    """The review rules file."""

    partial_response_fraction: _Source
    rules: tuple[ReviewRule, ...] = Field(min_length=1, max_length=100)


class CourseReview(BaseModel):
    """Where the course stands: ``continue``, ``review`` or ``stop``, why, and on what."""

    status: Status
    reasons: list[str]
    sources: list[str]
    sessions_given: int
    latest_score: float | None
    improvement: float | None
    """Fraction of the baseline gone at the latest score (negative: worse)."""
    review_day: float
    """The end-of-induction review: the day after the last induction session."""


@cache
def review_rules() -> ReviewRules:
    """The packaged review rules (checked on load)."""
    return ReviewRules.model_validate(clinic_file("review"))


def _count(n: Sessions, regimen: Regimen) -> int:
    return len(regimen.induction) if n == "induction" else int(n)


def course_review(patient: PatientFile, regimen: Regimen, rules: ReviewRules | None = None) -> CourseReview:
    """The review status of the course from the observed scores on the forecast's scale."""
    rs = rules or review_rules()
    review_day = regimen.end_of_induction_day + 1.0
    observed = [o for o in patient.observed_scores if o.scale == patient.scale]
    label_source = next((r.source for r in rs.rules if r.after_sessions == "induction"), "")
    if not observed:
        return CourseReview(
            status="continue",
            reasons=[
                f"No {patient.scale} score observed yet. The course is reviewed at the end of induction "
                f"(day {review_day:g}) on the scores collected before each session."
            ],
            sources=[label_source],
            sessions_given=0,
            latest_score=None,
            improvement=None,
            review_day=review_day,
        )
    latest = max(observed, key=lambda o: o.day)
    baseline = patient.baseline_scores[patient.scale]
    given = sum(s.day < latest.day for s in regimen.sessions)
    improvement = 1.0 - latest.score / baseline
    partial = patient.planning.partial_response_fraction or rs.partial_response_fraction.value
    response = scale(patient.scale).response_drop

    def level(t: Threshold) -> float:
        return partial if t == "partial" else response if t == "response" else float(t)

    fired = [
        r
        for r in rs.rules
        if regimen.route in r.routes
        and given >= _count(r.after_sessions, regimen)
        and (r.until_sessions is None or given < _count(r.until_sessions, regimen))
        and improvement < level(r.improvement_below) - 1e-12
        and (r.improvement_at_least is None or improvement >= level(r.improvement_at_least) - 1e-12)
    ]
    status: Status = max((r.status for r in fired), key=SEVERITY.__getitem__, default="continue")
    chosen = [r for r in fired if r.status == status]

    def text(r: ReviewRule) -> str:
        body = r.reason.format(sessions=given, improvement=f"{improvement:.0%}")
        return body[0].upper() + body[1:] + ("" if body.endswith(".") else ".")

    reasons = [text(r) for r in chosen]
    if not chosen:
        state = "in response" if improvement >= response - 1e-12 else "improving, not yet in response"
        reasons = [
            f"{patient.scale} {latest.score:g} on day {latest.day:g} ({improvement:.0%} improvement from "
            f"{baseline:g}) after {given} sessions: {state}. Continue as planned; review at the end of induction "
            f"(day {review_day:g})."
        ]
    return CourseReview(
        status=status,
        reasons=reasons,
        sources=[r.source for r in chosen] or [label_source],
        sessions_given=given,
        latest_score=latest.score,
        improvement=round(improvement, 4),
        review_day=review_day,
    )
