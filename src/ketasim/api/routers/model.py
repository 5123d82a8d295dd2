"""The model's endpoints: health, vocabulary, ``/api/pk`` and ``/api/simulate``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from ketasim import __version__
from ketasim.api.context import Context, context
from ketasim.api.errors import ERRORS
from ketasim.model.scenario import CourseReport, Scenario, course_report, simulate_scenario
from ketasim.pk import PKProfile, PKRequest, pk_profile
from ketasim.vocabulary import vocabulary

router = APIRouter(prefix="/api", tags=["model"])
Ctx = Annotated[Context, Depends(context)]


class Health(BaseModel):
    """``GET /api/health``."""

    status: Literal["ok"]
    version: str
    parameters: str


@router.get("/health", response_model=Health)
def health(ctx: Ctx) -> Health:
    """Liveness, version and the parameter set served."""
    return Health(status="ok", version=__version__, parameters=f"{ctx.params.origin} (digest {ctx.params.digest})")


def page_vocabulary() -> dict[str, Any]:
    """The names the web pages offer: conditions (with scales, default scale and typical
    baseline), scales (range), history flags, medication and oral antidepressant classes."""
    v = vocabulary()
    return {
        "conditions": {
            name: {
                "title": c.title,
                "scales": list(c.scales),
                "default_scale": c.default_scale,
                "typical_baseline": c.typical_baseline_on(c.default_scale),
            }
            for name, c in v.conditions.items()
        },
        "scales": {name: {"min": s.min, "max": s.max} for name, s in v.scales.items()},
        "history_flags": {name: f.title for name, f in v.history_flags.items()},
        "medication_classes": {name: m.title for name, m in v.medication_classes.items()},
        "antidepressant_classes": {name: a.title for name, a in v.antidepressant_classes.items()},
    }


@router.get("/vocabulary")
def vocabulary_names() -> dict[str, Any]:
    """Conditions, scales and history flags, as the web pages use them."""
    return page_vocabulary()


@router.post("/pk", response_model=PKProfile, responses=ERRORS)
def pk(body: PKRequest) -> PKProfile:
    """The ``ketasim pk`` result: concentrations at ``at_h`` and an NCA summary per analyte."""
    return pk_profile(body)


@router.post("/simulate", response_model=CourseReport, responses=ERRORS)
def simulate(body: Scenario, ctx: Ctx) -> CourseReport:
    """The ``ketasim simulate`` result for a scenario (body: a scenario, docs/scenarios.md)."""
    with ctx.heavy.slot():
        return course_report(simulate_scenario(body, ctx.params))
