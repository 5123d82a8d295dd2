"""Model structures: the transfers between compartments, written as in the papers.

Each structure returns a list of :class:`Flow` (first-order transfers, rate constants in
1/h, one value per patient).  Flows into a name starting with ``eliminated`` or
``presystemic`` go to sink compartments, so that the solver itself accounts for every mg
(mass balance is checked in the tests, not assumed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ketasim.vocabulary import vocabulary

FloatArray = NDArray[np.float64]
Params = Mapping[str, FloatArray]

FIRST_ORDER_ROUTES = tuple(name for name, route in vocabulary().routes.items() if not route.infusion)
"""Routes absorbed first-order from a depot (every route that is not an infusion)."""


@dataclass(frozen=True)
class Flow:
    """First-order transfer ``source → target`` with rate constant ``rate_per_h`` (P,)."""

    source: str
    target: str
    rate_per_h: FloatArray


def _exchange(a: str, b: str, q_l_h: FloatArray, va_l: FloatArray, vb_l: FloatArray) -> list[Flow]:
    """Inter-compartmental clearance Q between compartments of volumes Va and Vb."""
    return [Flow(a, b, q_l_h / va_l), Flow(b, a, q_l_h / vb_l)]


def parent_metabolite_first_order(p: Params, ka_per_h: Mapping[str, FloatArray]) -> list[Flow]:
    """Racemic ketamine → norketamine with first-order absorption routes.

    Parent (Clements & Nimmo 1981, or Domino with a third compartment):
        dA1/dt = −(CL + Q)/V1·A1 + Q/V2·A2 [− Q3/V1·A1 + Q3/V3·A3] + inputs
    A fraction fm of the parent's clearance forms norketamine (two compartments):
        dM1/dt = fm·CL/V1·A1 − (CLm + Qm)/Vm1·M1 + Qm/Vm2·M2
    An absorption route r with bioavailability F_r and first-pass metabolite fraction fp_r:
        depot_r → central: ka_r·F_r;  → metabolite: ka_r·(1 − F_r)·fp_r;  → lost: the rest.
    With ``mtt_gut_liver_min`` and/or ``mtt_formation_min`` (Simons 2022, Front Pain Res
    3:946486, Fig. 2 and Table 4), first-pass norketamine reaches the circulation through a
    gut-to-liver delay (rate 1/MTT_G) and a formation delay (rate 1/MTT_K→NK), each optional,
    instead of at once: Simons's mean transit times, the formation delay in one compartment
    instead of their chain of two equal ones (**assumed**: two equal rates make the rate
    matrix defective, which an eigen-decomposition solves only to about 1e-7).
    """
    cl, v1 = p["CL_L_h"], p["V1_L"]
    fm = p["fm"]
    flows = _exchange("central", "peripheral", p["Q_L_h"], v1, p["V2_L"])
    if "Q3_L_h" in p:
        flows += _exchange("central", "peripheral2", p["Q3_L_h"], v1, p["V3_L"])
    flows += [
        Flow("central", "metabolite_central", fm * cl / v1),
        Flow("central", "eliminated_parent", (1.0 - fm) * cl / v1),
    ]
    flows += _exchange("metabolite_central", "metabolite_peripheral", p["Qm_L_h"], p["Vm1_L"], p["Vm2_L"])
    flows.append(Flow("metabolite_central", "eliminated_metabolite", p["CLm_L_h"] / p["Vm1_L"]))
    # first-pass norketamine passes each delay the file gives, last one first (Simons 2022)
    first_pass = "metabolite_central"
    for delay, mtt in (("norketamine_formation", "mtt_formation_min"), ("gut_to_liver", "mtt_gut_liver_min")):
        if mtt in p:
            flows.append(Flow(delay, first_pass, 60.0 / p[mtt]))
            first_pass = delay
    for route, ka in ka_per_h.items():
        f, fp = p[f"F_{route}"], p[f"fp_{route}"]
        depot = f"depot_{route}"
        flows += [
            Flow(depot, "central", ka * f),
            Flow(depot, first_pass, ka * (1.0 - f) * fp),
            Flow(depot, "presystemic_loss", ka * (1.0 - f) * (1.0 - fp)),
        ]
    return flows


def perez_ruixo_2021(p: Params, ka_per_h: Mapping[str, FloatArray]) -> list[Flow]:
    """Esketamine with hepato-portal first pass and noresketamine (Perez-Ruixo 2021, Fig. 1).

    nasal depot → central (ka_n);  swallowed depot → liver (ka_sw);  oral depot → liver (ka_po)
    central ⇄ peripheral1 (Q1), central ⇄ peripheral2 (Q2), central ⇄ liver (Qh)
    liver → other metabolites (kel);  liver → noresketamine central (kmet)
    noresketamine central ⇄ peripheral (Q3/F);  noresketamine central → out (CLn/F)
    """
    del ka_per_h  # absorption rates are model parameters here
    vc = p["Vc_L"]
    flows = [
        Flow("depot_nasal", "central", p["ka_n_per_h"]),
        Flow("depot_swallowed", "liver", p["ka_sw_per_h"]),
        Flow("depot_oral", "liver", p["ka_po_per_h"]),
    ]
    flows += _exchange("central", "peripheral1", p["Q1_L_h"], vc, p["Vp1_L"])
    flows += _exchange("central", "peripheral2", p["Q2_L_h"], vc, p["Vp2_L"])
    flows += _exchange("central", "liver", p["Qh_L_h"], vc, p["Vh_L"])
    flows += [
        Flow("liver", "eliminated_parent", p["kel_per_h"]),
        Flow("liver", "metabolite_central", p["kmet_per_h"]),
    ]
    flows += _exchange("metabolite_central", "metabolite_peripheral", p["Q3_L_h"], p["Vcn_L"], p["Vpn_L"])
    flows.append(Flow("metabolite_central", "eliminated_metabolite", p["CLn_L_h"] / p["Vcn_L"]))
    return flows


Structure = Callable[[Params, Mapping[str, FloatArray]], list[Flow]]

STRUCTURES: dict[str, Structure] = {
    "parent_metabolite_first_order": parent_metabolite_first_order,
    "perez_ruixo_2021": perez_ruixo_2021,
}


def is_sink(compartment: str) -> bool:
    """Sinks collect what leaves the body (or never reaches it); they have no outflow."""
    return compartment.startswith(("eliminated", "presystemic"))


def compartments_of(flows: list[Flow]) -> tuple[str, ...]:
    """Compartment names in first-appearance order, sinks last."""
    names: list[str] = []
    for flow in flows:
        for name in (flow.source, flow.target):
            if name not in names:
                names.append(name)
    return tuple([n for n in names if not is_sink(n)] + [n for n in names if is_sink(n)])


def rate_matrix(flows: list[Flow], compartments: tuple[str, ...], n_patients: int) -> FloatArray:
    """Assemble M (P, n, n) with M[:, target, source] = k and M[:, source, source] −= k."""
    index = {name: i for i, name in enumerate(compartments)}
    m = np.zeros((n_patients, len(compartments), len(compartments)))
    for flow in flows:
        s, t = index[flow.source], index[flow.target]
        m[:, t, s] += flow.rate_per_h
        m[:, s, s] -= flow.rate_per_h
    return m
