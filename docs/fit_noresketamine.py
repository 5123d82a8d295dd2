"""Refit noresketamine's apparent central volume and clearance to the NCA of the same paper
(re-runnable; rewrites the two entries of data/pk/perez_ruixo_2021.yaml with --write):

    .venv/bin/python docs/fit_noresketamine.py            # print the fit
    .venv/bin/python docs/fit_noresketamine.py --write    # and store it

Why: Perez-Ruixo 2021's Table 3 model, as transcribed (nlmixr2lib
PerezRuixo_2020_esketamine.R), reproduces its own Table 4 esketamine Cmax and AUC and the
noresketamine Cmax within 1%, but over-predicts the noresketamine AUC0–24 by 1.41–1.46×
(nlmixr2lib documents the same), i.e. too much noresketamine for a day after every dose.

Data: Perez-Ruixo et al. 2021 Clin Pharmacokinet 60:501 Table 4, noresketamine Cmax
59.1/119.7/180.0 ng/mL and AUC0–24 274.4/516.3/758.0 ng·h/mL after 28/56/84 mg nasal
esketamine.  Free: Vcn/F and CLn/F (log scale; residuals on the log scale, so Cmax and AUC
count alike).  Everything else stays at Table 3; the label's noresketamine half-life (about
8 h) is not fitted and is reported.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from pkfit import PK_DIR, with_values, write_values
from scipy.optimize import least_squares

from ketasim.pk import PKModel, load_model
from ketasim.regimens import Dose

FILE = PK_DIR / "perez_ruixo_2021.yaml"
GRID_H = np.arange(0.0, 24.0 + 1e-9, 1.0 / 120.0)
FREE = ("Vcn_L", "CLn_L_h")
DOSES_MG = (28.0, 56.0, 84.0)
CMAX = {28.0: 59.1, 56.0: 119.7, 84.0: 180.0}
AUC_0_24 = {28.0: 274.4, 56.0: 516.3, 84.0: 758.0}
SOURCE = "Perez-Ruixo et al. 2021 Clin Pharmacokinet 60:501 Table 4 (noresketamine Cmax and AUC0-24 after 28/56/84 mg)"


def predictions(model: PKModel) -> dict[float, tuple[float, float]]:
    """(Cmax ng/mL, AUC0–24 ng·h/mL) of noresketamine per nasal dose, typical subject."""
    out = {}
    for dose_mg in DOSES_MG:
        c = model.simulate([Dose(amount_mg=dose_mg, route="intranasal")], GRID_H).concentrations_ng_ml["noresketamine"]
        out[dose_mg] = (float(c[0].max()), float(np.trapezoid(c[0], GRID_H)))
    return out


def half_life_h(model: PKModel) -> float:
    """Noresketamine terminal half-life (h): log-linear slope over 48–96 h after 56 mg."""
    t_h = np.arange(0.0, 96.0 + 1e-9, 0.25)
    c = model.simulate([Dose(amount_mg=56.0, route="intranasal")], t_h).concentrations_ng_ml["noresketamine"][0]
    late = t_h >= 48.0
    return math.log(2.0) / -float(np.polyfit(t_h[late], np.log(c[late]), 1)[0])


def residuals(log_x: np.ndarray, base: PKModel) -> np.ndarray:
    pred = predictions(with_values(base, dict(zip(FREE, np.exp(log_x), strict=True))))
    return np.array(
        [math.log(pred[d][0] / CMAX[d]) for d in DOSES_MG] + [math.log(pred[d][1] / AUC_0_24[d]) for d in DOSES_MG]
    )


def fit(base: PKModel) -> dict[str, float]:
    """Vcn and CLn (4 significant digits) from the packaged values as the start."""
    start = np.log([base.spec.parameters[k].value for k in FREE])
    res = least_squares(residuals, start, args=(base,), bounds=(np.log([5.0, 5.0]), np.log([1000.0, 500.0])))
    return {k: float(f"{v:.4g}") for k, v in zip(FREE, np.exp(res.x), strict=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="store the fitted values in perez_ruixo_2021.yaml")
    args = parser.parse_args()
    base = load_model("esketamine")
    values = fit(base)
    before, after = predictions(base), predictions(with_values(base, values))
    print("fitted:", values)
    print(
        f"{'dose mg':>7s} {'Cmax obs':>8s} {'before':>7s} {'after':>7s}   {'AUC obs':>7s} {'before':>7s} {'after':>7s}"
    )
    for d in DOSES_MG:
        b, a = before[d], after[d]
        print(f"{d:7.0f} {CMAX[d]:8.1f} {b[0]:7.1f} {a[0]:7.1f}   {AUC_0_24[d]:7.1f} {b[1]:7.1f} {a[1]:7.1f}")
    print(
        f"terminal half-life after 56 mg (label about 8 h): {half_life_h(base):.1f} h before, "
        f"{half_life_h(with_values(base, values)):.1f} h after"
    )
    if args.write:
        write_values(FILE, {k: (v, f'"fitted by docs/fit_noresketamine.py to {SOURCE}"') for k, v in values.items()})
        print(f"written to {FILE}")


if __name__ == "__main__":
    main()
