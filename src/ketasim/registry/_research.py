"""A de-identified table of the registry for research (Parquet): the course of every patient
of the site, with no names, MRNs, dates of birth, lot numbers, free text or record ids.

* patients are pseudonyms: HMAC-SHA256 of the record id under a key drawn for this export
  alone, so two exports cannot be linked to each other or back to the registry;
* calendar dates are gone: every event is placed in days since the patient's first session
  (a per-patient shift to day 0);
* ages at the first session are whole years, those above 89 shown as 90 (HIPAA Safe Harbor,
  45 CFR 164.514(b)(2)(i)(C)).

The table is long: one row per session, reading and score, with the patient's columns
repeated (sex, age, primary diagnosis, baseline score, failed antidepressant trials), in the
shape ketasim's trial output uses (``patient``, ``day``), so forecasts can be compared with it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from ketasim.registry._audit import audit
from ketasim.registry._auth import Actor, authorize
from ketasim.registry._care import first_session_at, forecast_scale
from ketasim.registry._course import _load
from ketasim.registry._models import PatientRow
from ketasim.registry._registry import Registry, current_all

AGE_CAP_YEARS = 90
COLUMNS = (
    "patient", "sex", "age_years", "condition", "baseline", "failed_antidepressant_trials", "event", "day",
    "instrument", "score", "drug", "route", "dose_mg", "systolic_mmhg", "diastolic_mmhg", "heart_rate_bpm", "spo2_pct",
)  # fmt: skip


SCHEMA = pa.schema(
    [("patient", pa.string()), ("sex", pa.string()), ("age_years", pa.int32()), ("condition", pa.string()),
     ("baseline", pa.float64()), ("failed_antidepressant_trials", pa.int32()), ("event", pa.string()),
     ("day", pa.float64()), ("instrument", pa.string()), ("score", pa.float64()), ("drug", pa.string()),
     ("route", pa.string()), ("dose_mg", pa.float64()), ("systolic_mmhg", pa.float64()),
     ("diastolic_mmhg", pa.float64()), ("heart_rate_bpm", pa.float64()), ("spo2_pct", pa.float64())]
)  # fmt: skip


def _age(birth: date, on: date) -> int:
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return min(years, AGE_CAP_YEARS)


def research_table(registry: Registry, actor: Actor) -> pa.Table:
    """The site's courses, de-identified (module docstring); prescribers only, audited."""
    key = secrets.token_bytes(32)
    with registry._unit(actor, "research_table") as db:
        authorize(actor, "export")
        courses = [_load(db, r) for r in current_all(db, PatientRow, PatientRow.site == actor.site)]
        audit(db, actor, "export", "research_table", None)
    rows: list[dict[str, Any]] = []
    for c in courses:
        start = first_session_at(c.sessions)
        if start is None:
            continue
        p = c.patient

        def day(t: datetime, start: datetime = start) -> float:
            return round((t - start).total_seconds() / 86400.0, 4)

        scale = forecast_scale(p)
        common = {
            "patient": hmac.new(key, p.uid.encode(), hashlib.sha256).hexdigest()[:16],
            "sex": p.sex,
            "age_years": _age(p.birth_date, start.date()),
            "condition": p.clinical["diagnoses"][0],
            "baseline": float(p.clinical["baseline_scores"][scale]),
            "failed_antidepressant_trials": int(p.clinical["failed_antidepressant_trials"]),
        }
        for s in c.sessions:
            rows.append({**common, "event": "session", "day": day(s.started_at), "drug": s.drug, "route": s.route,
                         "dose_mg": s.dose_mg})  # fmt: skip
            for v in c.vitals.get(s.uid, []):
                rows.append({**common, "event": "vitals", "day": day(v.taken_at), "systolic_mmhg": v.systolic_mmhg,
                             "diastolic_mmhg": v.diastolic_mmhg, "heart_rate_bpm": v.heart_rate_bpm,
                             "spo2_pct": v.spo2_pct})  # fmt: skip
        for q in c.questionnaires:
            rows.append({**common, "event": "score", "day": day(q.taken_at), "instrument": q.instrument,
                         "score": q.total})  # fmt: skip
    rows.sort(key=lambda r: (r["patient"], r["day"], r["event"]))
    return pa.Table.from_pylist([{c: r.get(c) for c in COLUMNS} for r in rows], schema=SCHEMA)
