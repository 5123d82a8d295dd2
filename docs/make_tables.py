"""Print the tables of docs/model.md §7–8 from the packaged parameters (re-runnable):

    .venv/bin/python docs/make_tables.py [--n 400] > /tmp/tables.md

Per family, in-sample and cross-validated hits side by side; every miss out of sample; every
free parameter with its estimate, 95% interval and status; the counts of sourced, fitted
and assumed values.
"""

from __future__ import annotations

import argparse

from ketasim.params import default_parameters, fixed_entries, free_parameters
from ketasim.trials.validation import validate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=400)
    n = parser.parse_args().n
    params = default_parameters()
    doc = validate(n=n, params=params)
    cv = doc.cross_validation
    print(f"In sample: **{doc.passed}/{doc.total}** ({100 * doc.passed / doc.total:.1f}%).")
    if cv is not None:
        print(
            f"Cross-validated ({cv.folds}-fold by study, {cv.sources} studies): "
            f"**{cv.passed}/{cv.total}** ({100 * cv.passed / cv.total:.1f}%)."
        )
    if doc.pk is not None:
        print(f"PK checks: **{doc.pk.passed}/{doc.pk.total}**.")
    print("\n| family | in sample | cross-validated |\n|---|---|---|")
    cv_fam = cv.by_family if cv is not None else {}
    for fam, (a, b) in doc.in_sample.by_family.items():
        c = cv_fam.get(fam)
        print(f"| {fam} | {a}/{b} | {f'{c[0]}/{c[1]}' if c else '—'} |")
    if cv is not None:
        print("\nMissed out of sample:\n\n| id | family | endpoint | observed | predicted (fold) | tolerance |")
        print("|---|---|---|---|---|---|")
        for r in cv.targets:
            if not r.passed:
                pred = "—" if r.predicted is None else f"{r.predicted:.3g}"
                print(
                    f"| {r.id} | {r.family} | {r.endpoint[:70]} | {r.observed_text()} | {pred} ({r.fold})"
                    f" | {r.tolerance:g} |"
                )
    cal = params.calibration
    print("\n| parameter | value | 95% interval | status | meaning |\n|---|---|---|---|---|")
    for p in free_parameters():
        u = cal.uncertainty.get(p.name)
        ci = "—" if u is None or u.ci95 is None else f"{u.ci95[0]:.3g}–{u.ci95[1]:.3g}"
        status = u.status if u is not None else "root (stage 1)"
        print(f"| `{p.name}` | {params[p.name]:.4g} | {ci} | {status} | {p.meaning} |")
    fixed = fixed_entries().values()
    assumed = sum(e.status == "assumed" for e in fixed)
    print(
        f"\nCounts: {len(free_parameters())} fitted, {len(fixed) - assumed} sourced fixed, {assumed} assumed fixed "
        f"(mechanism file `data/pd/cascade.yaml`; PK parameters are in `data/pk/`)."
    )


if __name__ == "__main__":
    main()
