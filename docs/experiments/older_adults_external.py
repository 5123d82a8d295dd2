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


common = dict(source="external check", reliability="S", condition="trd", tolerance_rule="issue rule", addressable=True)
T = [
    dict(
        id="x-sus2-old",
        family="older_adults",
        scale="MADRS",
        baseline=31.0,
        context={"age_min": 65.0, "age_mean": 70.0, "age_sd": 5.0, "open_label": True},
        endpoint="mean_change",
        description="SUSTAIN-2 >=65 induction",
        time_h=648,
        arm={"label": "esk", "treatment": esk(28)},
        observed=-18.1,
        sd=9.37,
        tolerance=5.0,
    ),
    dict(
        id="x-sus2-young",
        family="esketamine",
        scale="MADRS",
        baseline=31.0,
        context={"open_label": True},
        endpoint="mean_change",
        description="SUSTAIN-2 18-64 induction",
        time_h=648,
        arm={"label": "esk", "treatment": esk(56)},
        observed=-18.0,
        sd=7.19,
        tolerance=5.0,
    ),
    dict(
        id="x-oughli",
        family="older_adults",
        scale="MADRS",
        baseline=30.0,
        context={"age_min": 60.0, "age_mean": 68.0, "age_sd": 6.0, "open_label": True},
        endpoint="response_rate",
        description="Oughli >=60 IV twice weekly 4 wk",
        time_h=648,
        arm={"label": "iv", "treatment": iv(twice)},
        observed=0.48,
        tolerance=0.15,
    ),
    dict(
        id="x-lipsitz",
        family="older_adults",
        scale="QIDS-SR16",
        baseline=17.12,
        context={"age_min": 60.0, "age_mean": 67.0, "age_sd": 6.0, "open_label": True},
        endpoint="mean_change",
        description="Lipsitz >=60 after 4 infusions",
        time_h=192,
        arm={"label": "iv", "treatment": iv([0, 2, 4, 7])},
        observed=-4.6,
        tolerance=5.0,
    ),
    dict(
        id="x-lipsitz-r",
        family="older_adults",
        scale="QIDS-SR16",
        baseline=17.12,
        context={"age_min": 60.0, "age_mean": 67.0, "age_sd": 6.0, "open_label": True},
        endpoint="response_rate",
        description="Lipsitz response",
        time_h=192,
        arm={"label": "iv", "treatment": iv([0, 2, 4, 7])},
        observed=0.27,
        tolerance=0.15,
    ),
]
P = default_parameters()
for rep in (0, 1, 2):
    ev = Evaluator(n=400, params=P, replicate=rep)
    for d in T:
        t = Target.model_validate({**common, **d})
        pr, reason = predict(t, ev)
        print(rep, t.id, "obs", t.observed, "pred", None if pr is None else round(pr, 3), reason or "")
