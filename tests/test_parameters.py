"""Parameters as data: every value has a unit and a source, and docs/model.md lists it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketasim.pk import load_pk_file

MODEL_FILES = ["clements_1981", "domino_1982", "perez_ruixo_2021"]
DOCS = Path(__file__).resolve().parents[1] / "docs" / "model.md"


@pytest.mark.parametrize("name", MODEL_FILES)
def test_every_parameter_has_unit_and_source(name: str) -> None:
    spec = load_pk_file(name)
    for pname, p in spec.parameters.items():
        assert p.unit, pname
        assert len(p.source) > 10, pname
        if p.assumed:
            assert "assumed" in p.source.lower() or p.note, pname
        for cov in p.covariates:
            assert cov.source, pname


@pytest.mark.parametrize("name", MODEL_FILES)
def test_docs_list_every_parameter(name: str) -> None:
    text = DOCS.read_text(encoding="utf-8")
    for pname in load_pk_file(name).parameters:
        assert f"`{pname}`" in text, f"docs/model.md does not list {pname} of {name}"


def test_docs_mechanism_table_is_the_packaged_parameter_set() -> None:
    """docs/model.md §9 carries the table `ketasim params mechanism` prints for the packaged
    parameters, unchanged: a recalibration that does not regenerate it fails here."""
    from ketasim.params import default_parameters

    assert default_parameters().table_markdown() in DOCS.read_text(encoding="utf-8")


def test_every_packaged_free_parameter_is_identified_or_fixed() -> None:
    """Issue 12, item 2: a free parameter the targets cannot move is fixed, not fitted.  The
    packaged calibration reports no fitted value as not identifiable (a rank-deficient block,
    like the six dissociation parameters on four targets before 2026-12-04, fails here)."""
    from ketasim.params import default_parameters, free_parameters

    fits = default_parameters().calibration.uncertainty
    assert set(fits) == {p.name for p in free_parameters() if p.stage != "glutamate"}  # stage 1 is a root
    unidentified = sorted(name for name, fit in fits.items() if fit.status == "not_identifiable")
    assert not unidentified, f"fitted but not identifiable: {unidentified}"


def test_the_spread_of_dissociation_is_the_log_normal_of_its_published_cv() -> None:
    """``adverse.cadss_omega`` is derived, not fitted: the SD of log of a log-normal with the
    CV of the cited peak CADSS (18.8 +/- 13.7), sqrt(ln(1 + CV^2)), to the 3 digits stored."""
    import math

    from ketasim.params import default_parameters

    cv = 13.7 / 18.8
    entry = default_parameters().entries["adverse.cadss_omega"]
    assert "18.8 (+/- 13.7)" in entry.source
    assert entry.value == pytest.approx(math.sqrt(math.log(1.0 + cv**2)), abs=5e-4)


def test_the_derived_adverse_event_rates_are_what_their_script_prints() -> None:
    """data/pd/cascade.yaml holds the label-derived per-session rates exactly as
    docs/derive_adverse_rates.py prints them from the current model (run as a real process),
    so a PK change that moves the typical peak occupancy cannot leave them stale."""
    import subprocess
    import sys

    from ketasim.io.data import packaged

    root = DOCS.parents[1]
    done = subprocess.run(
        [sys.executable, str(root / "docs" / "derive_adverse_rates.py")], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("  ae_nausea_p0:")
    assert done.stdout in packaged("pd/cascade.yaml").read_text(encoding="utf-8")
