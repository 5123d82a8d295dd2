"""Derive the per-session adverse-event rates from the Spravato label's TRD pool (re-runnable):

    .venv/bin/python docs/derive_adverse_rates.py

For each event with a label row on esketamine + AD (P_e) and placebo + AD (P_p) over the
8 induction sessions, the model's per-session probability 1 − (1 − p₀)·e^{−β·O_peak} gives
back both incidences at the typical peak NMDA occupancy O of esketamine 56 mg:

    p₀ = 1 − (1 − P_p)^(1/8),     β = −ln((1 − P_e)/(1 − P_p)) / (8·O)

Prints the `adverse:` entries of data/pd/cascade.yaml (the source of each value is its
target row in data/targets.yaml, marked `derives`).  Vomiting was derived the same way.
"""

from __future__ import annotations

import math

import numpy as np

from ketasim.covariates import Covariates
from ketasim.model import expose
from ketasim.params import default_parameters
from ketasim.regimens import KetamineSessions
from ketasim.trials.targets import load_targets

SESSIONS = 8
NO_PLACEBO_ROW = {"sedation_moaas": "MOAA/S <= 3", "loss_of_consciousness": "MOAA/S 0"}
"""The label's measured events without a placebo row, and the depth of sedation each names."""


def typical_peak_occupancy() -> float:
    """Peak NMDA occupancy of esketamine 56 mg nasal, typical 70 kg man (the label's doses)."""
    ex = expose(
        [KetamineSessions(drug="esketamine", route="intranasal", dose_mg=56, days=(0,), hour_of_day=0)],
        Covariates.one(70.0),
        6.0,
        params=default_parameters(),
    )
    return float(np.max(ex.states["nmda_occupancy"]))


def main() -> None:
    o = typical_peak_occupancy()
    rows = {t.id: t for t in load_targets()}
    for event, esk, pbo in (
        ("nausea", "101-esk", "101-pbo"),
        ("dizziness", "100-esk", "100-pbo"),
        ("sedation", "102-esk", "102-pbo"),
        ("vertigo", "103-esk", "103-pbo"),
        ("hypoesthesia", "105-esk", "105-pbo"),
        ("dissociation_reported", "99-esk", "99-pbo"),
        ("sedation_moaas", "106a", None),
        ("loss_of_consciousness", "106b", None),
    ):
        pe = rows[esk].observed
        pp = rows[pbo].observed if pbo else 0.0
        p0 = 1 - (1 - pp) ** (1 / SESSIONS)
        beta = -math.log((1 - pe) / (1 - pp)) / (SESSIONS * o)
        placebo = (
            f"{pp:g} on placebo + AD (target {pbo})"
            if pbo
            else f"no placebo row: 0 assumed (a placebo session does not sedate to {NO_PLACEBO_ROW[event]})"
        )
        print(f'  ae_{event}_p0:\n    value: {p0:.4g}\n    unit: "1"')
        print(
            f'    source: "[C] Spravato label TRD pool: {event} {placebo} over {SESSIONS} induction sessions:'
            f' 1 - (1 - {pp:g})^(1/{SESSIONS}) (docs/derive_adverse_rates.py)"'
        )
        if not pbo:
            print("    assumed: true")
        print(f'  ae_{event}_beta:\n    value: {beta:.4g}\n    unit: "1"')
        print(
            f'    source: "[C] Spravato label TRD pool: {event} {pe:g} on esketamine + AD (target {esk})'
            f" over {SESSIONS} sessions at the typical peak NMDA occupancy {o:.3f} (56 mg):"
            f" -ln((1 - {pe:g})/(1 - {pp:g}))/({SESSIONS} x {o:.3f})"
            ' (docs/derive_adverse_rates.py)"'
        )


if __name__ == "__main__":
    main()
