"""What a clinic records, validated before anything is written: each refusal names the field,
the value and what is allowed (NaN, Infinity and booleans-as-numbers refused)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from ketasim.clinic.patient import PatientFile
from ketasim.covariates import Sex
from ketasim.io.data import read_packaged_yaml
from ketasim.regimens import MAX_AMOUNT_MG, MIN_AMOUNT_MG
from ketasim.registry._db import RegistryError
from ketasim.schema import Count, Flag, Printable, Real, StrictModel
from ketasim.vocabulary import DrugName, RouteName, names
from ketasim.vocabulary import scale as scale_entry

MAX_ITEMS = 20
MAX_VITALS_PER_CALL = 200
EARLIEST_RECORD = datetime(1900, 1, 1, tzinfo=UTC)
CLOCK_MARGIN = timedelta(days=1)
"""A record may be dated up to a day ahead of the server's clock (time zones, clocks)."""


def _a_time_not_a_number(value: Any) -> Any:
    if not isinstance(value, str | datetime):
        raise ValueError(f"{value!r} is not a date and time (ISO 8601 with a time zone)")
    return value


def _in_record_range(value: datetime) -> datetime:
    latest = datetime.now(UTC) + CLOCK_MARGIN
    if not EARLIEST_RECORD <= value <= latest:
        raise ValueError(
            f"{value.isoformat()} is outside {EARLIEST_RECORD.date()} to {latest.date()} (recorded events)"
        )
    return value


RecordedAt = Annotated[AwareDatetime, BeforeValidator(_a_time_not_a_number), AfterValidator(_in_record_range)]
"""When a recorded event happened: an ISO date-time with its zone, 1900 to a day from now."""


class Instrument(BaseModel):
    """A questionnaire or rating the registry records (``data/registry/instruments.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    kind: Literal["items", "total", "yes_no"]
    items: int | None = None
    item_max: int | None = None
    loinc_total: str | None = None
    loinc_panel: str | None = None
    loinc_items: tuple[str, ...] | None = None
    suicidal_item: int | None = None
    positive_rule: str | None = None
    source: str


@cache
def instruments() -> dict[str, Instrument]:
    """Every instrument by name."""
    raw = read_packaged_yaml("registry/instruments.yaml")
    return {name: Instrument(name=name, **entry) for name, entry in raw.items()}


def instrument(name: str) -> Instrument:
    """One instrument, or a refusal listing the known ones."""
    known = instruments()
    if name not in known:
        raise RegistryError.one("instrument", f"{name!r} is not recorded; allowed: {', '.join(known)}")
    return known[name]


class ClinicalFields(StrictModel):
    """The planner's patient fields (docs/planner.md) kept with the patient; checked by
    building the planner's :class:`~ketasim.clinic.patient.PatientFile`."""

    weight_kg: Real
    height_cm: Real
    diagnoses: tuple[str, ...] = Field(min_length=1, max_length=10)
    failed_antidepressant_trials: Count
    history: tuple[str, ...] = Field(default=(), max_length=50)
    concomitant_medications: tuple[str, ...] = Field(default=(), max_length=50)
    pregnant: Flag = False
    vitals: dict[str, Real]
    baseline_scores: dict[str, Real] = Field(min_length=1, max_length=20)
    treatment: dict[str, str] | None = None
    weight_basis: Literal["actual", "ideal", "adjusted"] = "actual"
    oral_antidepressant: str | None = None
    planning: dict[str, Any] | None = None


class PatientIn(StrictModel):
    """A patient's identity, consent and planner fields."""

    mrn: Printable = Field(min_length=1, max_length=64)
    given_name: Printable = Field(min_length=1, max_length=100)
    family_name: Printable = Field(min_length=1, max_length=100)
    birth_date: date
    sex: Sex
    consent_off_label: Flag = False
    clinical: ClinicalFields

    def age_years(self, on: date) -> float:
        """Age in whole years on a date."""
        b = self.birth_date
        return float(on.year - b.year - ((on.month, on.day) < (b.month, b.day)))

    def planner_patient(self, on: date, observed: tuple[dict[str, Any], ...] = ()) -> PatientFile:
        """The planner's patient file on a date (age from the date of birth), with the stored
        scores as observed scores."""
        data: dict[str, Any] = {
            "name": "registry patient",
            "age_years": self.age_years(on),
            "sex": self.sex,
            **self.clinical.model_dump(exclude_none=True),
            "observed_scores": list(observed),
        }
        try:
            return PatientFile.model_validate(data)
        except ValidationError as err:
            raise RegistryError.from_validation(err, data).under("clinical") from None

    @model_validator(mode="after")
    def _check(self) -> Self:
        today = date.today()
        if self.birth_date > today:
            raise ValueError(f"birth_date: {self.birth_date} is in the future")
        if not 18 <= self.age_years(today) <= 100:
            raise ValueError(f"birth_date: {self.birth_date} gives an age outside 18–100 years (adults only)")
        self.planner_patient(today)
        return self


class RemsAnswers(StrictModel):
    """The REMS Patient Monitoring Form's session answers (clinic-registry.md §2)."""

    first_treatment: Flag | None = None
    enrolled_in_rems: Flag | None = None
    benzodiazepines: Flag | None = None
    non_benzodiazepine_hypnotics: Flag | None = None
    psychostimulants: Flag | None = None
    mao_inhibitors: Flag | None = None
    opioids: Flag | None = None
    monitoring_provider: str | None = Field(default=None, max_length=200)
    provider_phone: str | None = Field(default=None, max_length=40)
    site_name: str | None = Field(default=None, max_length=200)
    site_address: str | None = Field(default=None, max_length=300)
    total_monitoring_min: Real | None = Field(default=None, ge=0, le=24 * 60)
    minutes_until_ready_without_2h_rule: Real | None = Field(default=None, ge=0, le=24 * 60)
    vitals_acceptable_before_dosing: Flag | None = None
    vitals_acceptable_at_end: Flag | None = None
    sedation: Flag | None = None
    dissociation: Flag | None = None
    respiratory_depression: Flag | None = None
    serious_adverse_event: Flag | None = None
    submitted_at: RecordedAt | None = None


class SessionIn(StrictModel):
    """One treatment session as given."""

    patient_uid: str = Field(min_length=1, max_length=36)
    started_at: RecordedAt
    drug: DrugName
    route: RouteName
    dose_mg: Real = Field(ge=MIN_AMOUNT_MG, le=MAX_AMOUNT_MG)
    lot_number: Printable | None = Field(default=None, max_length=64)
    device_times_min: tuple[Real, ...] | None = Field(default=None, max_length=3)
    infusion_end_min: Real | None = Field(default=None, gt=0, le=24 * 60)
    infusion_rate_mg_per_h: Real | None = Field(default=None, gt=0, le=MAX_AMOUNT_MG)
    cadss_max: Real | None = Field(default=None, ge=0, le=92)
    moaas_min: Count | None = Field(default=None, ge=0, le=5)
    adverse_events: tuple[str, ...] = Field(default=(), max_length=20)
    ready_for_discharge_min: Real | None = Field(default=None, ge=0, le=24 * 60)
    rems: RemsAnswers | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        known = names("adverse_events")
        for i, event in enumerate(self.adverse_events):
            if event not in known:
                raise ValueError(f"adverse_events[{i}]: {event!r} is not known; allowed: {', '.join(known)}")
        if self.route == "intranasal" and self.infusion_end_min is not None:
            raise ValueError("infusion_end_min: a nasal session has device times, not an infusion")
        if self.route == "iv" and self.device_times_min is not None:
            raise ValueError("device_times_min: an IV session has an infusion, not devices")
        times = self.device_times_min or ()
        if any(not 0 <= t <= 60 for t in times) or list(times) != sorted(times):
            raise ValueError(f"device_times_min: {list(times)} must be minutes 0–60 from the start, in order")
        return self


class VitalIn(StrictModel):
    """One reading; at least one value (physiological ranges)."""

    taken_at: RecordedAt
    systolic_mmhg: Real | None = Field(default=None, ge=50, le=300)
    diastolic_mmhg: Real | None = Field(default=None, ge=20, le=200)
    heart_rate_bpm: Real | None = Field(default=None, ge=20, le=250)
    spo2_pct: Real | None = Field(default=None, ge=50, le=100)
    respiratory_rate_per_min: Real | None = Field(default=None, ge=2, le=80)

    @model_validator(mode="after")
    def _check(self) -> Self:
        values = self.model_dump(exclude={"taken_at"})
        if all(v is None for v in values.values()):
            raise ValueError("a reading needs at least one of " + ", ".join(values))
        sbp, dbp = self.systolic_mmhg, self.diastolic_mmhg
        if sbp is not None and dbp is not None and dbp >= sbp:
            raise ValueError(f"diastolic_mmhg: {dbp:g} must be below systolic {sbp:g}")
        return self


class QuestionnaireIn(StrictModel):
    """A questionnaire: items for instruments with items, a total for clinician ratings."""

    patient_uid: str = Field(min_length=1, max_length=36)
    instrument: str
    taken_at: RecordedAt
    items: tuple[Count, ...] | None = Field(default=None, max_length=MAX_ITEMS)
    total: Real | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        inst = instrument(self.instrument)
        if inst.kind == "total":
            if self.items is not None:
                raise ValueError(f"items: {self.instrument} is recorded as a total, without items")
            if self.total is None:
                raise ValueError(f"total: {self.instrument} needs its total")
            s = scale_entry(self.instrument)
            if not s.contains(self.total):
                raise ValueError(f"total: {self.total:g} is outside {self.instrument}'s range {s.min:g}–{s.max:g}")
            return self
        if self.items is None or len(self.items) != inst.items:
            got = "none" if self.items is None else len(self.items)
            raise ValueError(f"items: {self.instrument} has {inst.items} items; got {got}")
        top = 1 if inst.kind == "yes_no" else inst.item_max or 0
        for i, value in enumerate(self.items):
            if not 0 <= value <= top:
                raise ValueError(f"items[{i}]: {value} is outside 0–{top}")
        if self.total is not None and self.total != self.computed_total():
            raise ValueError(f"total: {self.total:g} does not match the items' sum {self.computed_total():g}")
        return self

    def computed_total(self) -> float:
        """The total to store: the given total, or the items' sum."""
        return float(sum(self.items)) if self.items is not None else float(self.total or 0.0)


class EmergencyIn(StrictModel):
    """A break-glass request: the patient (of another site) and why the emergency needs the
    record (printable, on one line)."""

    patient_uid: str = Field(min_length=1, max_length=36)
    reason: Printable = Field(min_length=10, max_length=500)


def parse(model: type[StrictModel], data: Any, under: str = "") -> Any:
    """Validate a mapping into ``model``, refusing with field paths."""
    if not isinstance(data, dict):
        raise RegistryError.one(under or "(input)", "a mapping of fields to values is expected")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        error = RegistryError.from_validation(err, data)
        raise (error.under(under) if under else error) from None
