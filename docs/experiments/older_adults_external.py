"""External check of the age effect (not targets; no fit has seen them), under the packaged
parameters, draws 0-2, n = 400 per arm.  Run from the repository root:
    NUMBA_NUM_THREADS=1 .venv/bin/python docs/experiments/older_adults_external.py
Sources (abstracts; docs/model.md section 8, "Older adults"):
  SUSTAIN-2 by age, Ochs-Ross et al. 2022, Am J Geriatr Psychiatry (open-label esketamine + new
    antidepressant, 4-week induction; MADRS change -18.0 (SD 7.19) aged 18-64, n 624, and
    -18.1 (SD 9.37) aged >= 65, n 178).
  Oughli et al. (open-label IV ketamine 0.5 mg/kg twice weekly for 4 weeks, aged >= 60, n 25:
    48% responded).
  Lipsitz et al. 2021, Am J Geriatr Psychiatry 29:899 (clinic series, aged >= 60, 4 IV
    infusions over 1-2 weeks: QIDS-SR16 17.12 -> 12.52, response 27%).
Assumed (not in the abstracts): entry MADRS 31 (SUSTAIN-2) and 30 (Oughli); ages (mean 70,
SD 5 for >= 65; mean 68 or 67, SD 6 for >= 60); 56 mg esketamine after a 28 mg first dose in
older adults; IV 0.5 mg/kg over 40 min on days 0, 2, 4, 7 for Lipsitz, read on day 8."""

from ketasim.params import default_parameters
from ketasim.trials.targets import Target
from ketasim.trials.validation import Evaluator, predict

twice = [0, 3, 7, 10, 14, 17, 21, 24]


def esk(first):
    return [
        {"kind": "ketamine", "drug": "esketamine", "route": "intranasal", "dose_mg": first, "days": [0]},
        {"kind": "ketamine", "drug": "esketamine", "route": "intranasal", "dose_mg": 56, "days": twice[1:]},
        {"kind": "oral_antidepressant", "start_day": 0, "newly_started": True},
    ]


def iv(days):
    return [
        {
            "kind": "ketamine",
            "drug": "racemic_ketamine",
            "route": "iv",
            "dose_mg_per_kg": 0.5,
            "duration_min": 40,
            "days": days,
        }
    ]


OLDER = {"age_min": 65.0, "age_mean": 70.0, "age_sd": 5.0, "open_label": True}
SIXTY = {"age_min": 60.0, "age_sd": 6.0, "open_label": True}
# id, family, scale, entry score, context, endpoint, time_h, treatment, observed, tolerance
ROWS = [
    ("x-sus2-old", "older_adults", "MADRS", 31.0, OLDER, "mean_change", 648, esk(28), -18.1, 5.0),
    ("x-sus2-young", "esketamine", "MADRS", 31.0, {"open_label": True}, "mean_change", 648, esk(56), -18.0, 5.0),
    (
        "x-oughli",
        "older_adults",
        "MADRS",
        30.0,
        {**SIXTY, "age_mean": 68.0},
        "response_rate",
        648,
        iv(twice),
        0.48,
        0.15,
    ),
    (
        "x-lipsitz",
        "older_adults",
        "QIDS-SR16",
        17.12,
        {**SIXTY, "age_mean": 67.0},
        "mean_change",
        192,
        iv([0, 2, 4, 7]),
        -4.6,
        5.0,
    ),
    (
        "x-lipsitz-r",
        "older_adults",
        "QIDS-SR16",
        17.12,
        {**SIXTY, "age_mean": 67.0},
        "response_rate",
        192,
        iv([0, 2, 4, 7]),
        0.27,
        0.15,
    ),
]


def target(row: tuple) -> Target:
    tid, family, scale, baseline, context, endpoint, time_h, treatment, observed, tolerance = row
    return Target.model_validate(
        dict(
            id=tid, source="external check", reliability="S", condition="trd", tolerance_rule="issue rule",
            addressable=True, family=family, scale=scale, baseline=baseline, context=context, endpoint=endpoint,
            description=tid, time_h=time_h, arm={"label": tid, "treatment": treatment}, observed=observed,
            tolerance=tolerance,
        )
    )  # fmt: skip


P = default_parameters()
for rep in (0, 1, 2):
    ev = Evaluator(n=400, params=P, replicate=rep)
    for t in map(target, ROWS):
        pr, reason = predict(t, ev)
        print(rep, t.id, "obs", t.observed, "pred", None if pr is None else round(pr, 3), reason or "")
