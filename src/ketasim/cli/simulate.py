"""``ketasim simulate`` (one patient from dose to symptoms) and ``ketasim export-sbml``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ketasim.cli._app import (
    FormatOption,
    OutputFormat,
    ParamsOption,
    console,
    disclaimer,
    echo_json,
    input_file,
    output_file,
    parameters,
    refusing,
    writing,
)
from ketasim.model.scenario import DEFAULT_SCENARIO, Scenario

ScenarioArgument = Annotated[
    Path | None, typer.Argument(help="Scenario file (YAML/JSON); default: the built-in TRD scenario.")
]


def scenario_or_default(path: Path | None) -> Scenario:
    """The scenario file's content (validated), or the built-in default scenario."""
    from ketasim.model.scenario import load_scenario

    if path is None:
        return DEFAULT_SCENARIO
    with refusing("SCENARIO"):
        return load_scenario(input_file("SCENARIO", path))
    raise AssertionError  # pragma: no cover - refusing() exits


def simulate_command(
    scenario: ScenarioArgument = None,
    output_format: FormatOption = OutputFormat.table,
    plot: Annotated[Path | None, typer.Option(help="Write the cascade figure (PNG).")] = None,
    report: Annotated[Path | None, typer.Option(help="Write a self-contained HTML report.")] = None,
    params_file: ParamsOption = None,
) -> None:
    """Simulate one patient from dose to symptoms and side effects.

    With no file: a 70 kg adult with treatment-resistant depression, MADRS 32, six IV
    infusions of 0.5 mg/kg over 40 min on days 0, 2, 4, 7, 9, 11, followed to day 42.
    A research and decision-support tool: it does not replace clinical judgement.
    """
    from ketasim.model.scenario import course_report, simulate_scenario

    sc = scenario_or_default(scenario)
    output_file("--plot", plot, (".png",))
    output_file("--report", report, (".html",))
    params = parameters(params_file)
    with refusing("SCENARIO"):
        course = course_report(simulate_scenario(sc, params))
    if plot is not None:
        from ketasim.reporting.figures import plot_cascade

        with writing("--plot"):
            plot_cascade([(sc.name, course)], plot)
    if report is not None:
        from ketasim.reporting.html import course_html, write_html

        with writing("--report"):
            write_html(report, course_html(sc, course, params))
    if output_format is OutputFormat.json:
        echo_json(course)
        return
    from ketasim.reporting.tables import course_table

    head, rows = course_table(course)
    table = Table(title=f"{sc.name} (values at midday)")
    for h in head:
        table.add_column(h, justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if course.sessions:
        s0 = course.sessions[0]
        console.print(
            f"first session: peak NMDA occupancy {s0.peak_occupancy:.2f} at "
            f"{60 * s0.peak_time_after_start_h:.0f} min; peak CADSS {max(course.adverse['cadss']):.1f}; "
            f"peak SBP {max(course.adverse['sbp_mmhg']):.0f} mmHg"
        )
    for flag in course.flags:
        console.print(f"flag: {flag.message} ({flag.source})", style="yellow")
    disclaimer()


def export_sbml_command(
    scenario: ScenarioArgument = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="SBML file to write (.xml or .sbml).")] = Path(
        "model.xml"
    ),
    params_file: ParamsOption = None,
) -> None:
    """Write the scenario's patient — PK, receptor, cascade, symptoms, side effects and doses
    as events — as SBML Level 3 for COPASI, tellurium or libroadrunner.  A research and
    decision-support tool: it does not replace clinical judgement."""
    from ketasim.adapters.sbml import write_sbml

    sc = scenario_or_default(scenario)
    output_file("--output", output, (".xml", ".sbml"))
    params = parameters(params_file)
    with refusing("SCENARIO", {"(output)": "--output"}):
        path = write_sbml(sc, output, params)
    console.print(f"wrote {path} (SBML L3V2: {sc.name})")
    disclaimer()
