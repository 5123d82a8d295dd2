"""Durability and migrations on real databases: a writer killed with SIGKILL in the middle of
a burst loses no acknowledged write and leaves a consistent database; the migrations go down
and up again to the models' schema."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from ketasim.registry import Registry
from ketasim.registry._db import MIGRATIONS
from ketasim.registry._models import AuditEvent, Base, DosingSessionRow
from pg import registry_url

WRITER = Path(__file__).with_name("registry_writer.py")
PASSWORD = "correct horse battery"
PATIENT = {
    "mrn": "K-1", "given_name": "Kim", "family_name": "Kill", "birth_date": "1980-01-01", "sex": "female",
    "clinical": {"weight_kg": 70, "height_cm": 170, "diagnoses": ["trd"], "failed_antidepressant_trials": 2,
                 "vitals": {"systolic_mmhg": 120, "diastolic_mmhg": 80, "heart_rate_bpm": 70, "spo2_pct": 98},
                 "baseline_scores": {"MADRS": 30}},
}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return registry_url(request, tmp_path, "d")


def test_a_killed_writer_loses_no_acknowledged_write(url: str) -> None:
    registry = Registry.open(url)
    admin = registry.create_user(None, "admin", "A", "admin", PASSWORD)
    registry.create_user(admin, "nurse", "N", "nurse", PASSWORD)
    doctor = registry.create_user(admin, "doc", "D", "prescriber", PASSWORD)
    patient = registry.add_patient(doctor, PATIENT).uid
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), url, patient, "100000"], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    assert proc.stdout is not None
    acknowledged: list[str] = []
    deadline = time.monotonic() + 120
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            acknowledged.append(line.split()[0])
    os.kill(proc.pid, signal.SIGKILL)  # in the middle of the burst: a write is under way
    acknowledged += [line.split()[0] for line in proc.stdout.read().splitlines() if line.strip()]
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL and len(acknowledged) >= 150

    reopened = Registry.open(url)
    with reopened.engine.connect() as c:
        stored = set(c.execute(select(DosingSessionRow.uid)).scalars())
        audited = set(c.execute(select(AuditEvent.entity_uid).where(AuditEvent.entity == "session")).scalars())
        if c.dialect.name == "sqlite":
            assert c.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
        sessions = c.execute(select(func.count()).select_from(DosingSessionRow)).scalar_one()
    assert set(acknowledged) <= stored  # every acknowledged write survived
    assert stored == audited and sessions == len(stored)  # each write whole: its row and its audit, or neither
    assert len(stored) - len(acknowledged) <= 1  # at most the one committed as the kill came
    doc = reopened.actor("doc")
    assert len(reopened.sessions(doc, patient)) == len(stored)  # and the registry reads it


def test_migrations_go_down_and_up_again(url: str) -> None:
    engine = Registry.open(url).engine
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with engine.connect() as c:
        assert compare_metadata(MigrationContext.configure(c), Base.metadata) == []
    registry = Registry(engine)
    registry.create_user(None, "admin", "A", "admin", PASSWORD)  # the schema works again
    with pytest.raises(Exception, match="append-only"), engine.begin() as c:
        c.execute(text("DELETE FROM audit_events"))
