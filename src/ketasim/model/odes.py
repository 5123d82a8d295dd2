"""The whole exposure model of one patient as a single ODE system: PK compartments and
effect sites (linear), NMDA occupancy (algebraic), the cascade, the mood drive, the
dissociation-tolerance tracker and the acute adaptation of dissociation.

It restates the equations the batched solver integrates (:func:`ketasim.model.expose`)
as one right-hand side, for general-purpose integrators: ``scipy``'s ``solve_ivp`` here
(:func:`solve_reference`) and libroadrunner through the SBML export
(:mod:`ketasim.adapters.sbml`).  Doses are events: boluses are jumps in a compartment, zero-order
inputs add a constant rate between their start and end, and the integration restarts at
every such time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import solve_ivp

from ketasim.covariates import Covariates
from ketasim.params import ParameterSet
from ketasim.pd.adverse import AdverseParameters
from ketasim.pd.cascade import ODE_STATES, CascadeParameters, cascade_odes, normalisers, reference_occupancy_auc
from ketasim.pk import load_model
from ketasim.regimens import Dose, KetamineSessions, TreatmentItem

FloatArray = NDArray[np.float64]
EXTRA_STATES = ("mood_drive_fast", "dissociation_tolerance", "dissociation_adaptation")
"""States after the cascade's, in this order."""
InputEvent = tuple[float, int, float, float]
"""(start_h, state index, amount, duration_h); duration 0 is a bolus."""


@dataclass(frozen=True)
class CourseODE:
    """One patient's exposure model: ``dy/dt = rhs(t, y)`` plus the input events."""

    states: tuple[str, ...]
    n_pk: int
    rate_matrix_per_h: FloatArray
    plasma_ng_ml: dict[str, tuple[int, float]]
    free_brain_um: dict[str, tuple[int, float]]
    ki_um: dict[str, float]
    cascade: CascadeParameters
    norm: dict[str, float]
    tau_mood_h: float
    tau_tolerance_h: float
    tau_acute_h: float
    acute_fraction: float
    auc_one_session_h: float
    inputs: tuple[InputEvent, ...]

    def occupancy(self, y: FloatArray) -> float:
        """NMDA occupancy from the effect-site states (competitive, Ebert 1997 Ki)."""
        load = sum(y[i] * f / self.ki_um[s] for s, (i, f) in self.free_brain_um.items())
        return float(load / (1.0 + load))

    def rhs(self) -> Callable[[float, FloatArray], FloatArray]:
        """dy/dt without the dose inputs."""
        n = self.n_pk
        m = self.rate_matrix_per_h
        occ_now = [0.0]
        cascade = cascade_odes(self.cascade, lambda _t: occ_now[0])
        c0 = n
        ampa = c0 + ODE_STATES.index("ampa")

        def f(t: float, y: FloatArray) -> FloatArray:
            occ_now[0] = self.occupancy(y)
            mood, tol, acute = y[c0 + len(ODE_STATES) : c0 + len(ODE_STATES) + len(EXTRA_STATES)]
            return np.concatenate(
                [
                    m @ y[:n],
                    cascade(t, y[c0 : c0 + len(ODE_STATES)]),
                    [
                        (y[ampa] - mood) / self.tau_mood_h,
                        occ_now[0] / self.auc_one_session_h - tol / self.tau_tolerance_h,
                        (occ_now[0] - acute) / self.tau_acute_h,
                    ],
                ]
            )

        return f


def course_odes(
    treatment: Sequence[TreatmentItem],
    covariates: Covariates,
    *,
    params: ParameterSet,
    pk_etas: dict[str, dict[str, FloatArray]] | None = None,
) -> CourseODE:
    """The ODE system of the first patient of ``covariates`` (PK blocks of every drug given)."""
    cov = Covariates(covariates.weight_kg[:1], covariates.age_years[:1], covariates.female[:1])
    doses: dict[str, list[Dose]] = {}
    for item in treatment:
        if isinstance(item, KetamineSessions):
            doses.setdefault(item.drug, []).extend(item.doses())
    blocks: list[FloatArray] = []
    states: list[str] = []
    plasma: dict[str, tuple[int, float]] = {}
    free: dict[str, tuple[int, float]] = {}
    events: list[InputEvent] = []
    for drug, records in sorted(doses.items()):
        model = load_model(drug)
        etas = {k: np.asarray(v)[:1] for k, v in (pk_etas or {}).get(drug, {}).items()} or None
        system = model.linear_system(cov, etas)
        offset = len(states)
        blocks.append(system.rate_matrix_per_h[0])
        states += [f"{drug}.{s}" for s in system.states]
        plasma.update({a: (offset + i, float(f[0])) for a, (i, f) in system.plasma_ng_ml.items()})
        for species, (i, f) in system.free_brain_um.items():
            if species in free:
                raise ValueError(f"{species} given by two drugs: not supported by the ODE export")
            free[species] = (offset + i, float(f[0]))
        inputs = model.dose_inputs(records, system)
        events += [
            (float(s), offset + int(c), float(a), float(d))
            for c, s, d, a in zip(
                inputs.compartment, inputs.start_h[0], inputs.duration_h[0], inputs.amount_mg[0], strict=True
            )
        ]
    n_pk = len(states)
    m = np.zeros((n_pk, n_pk))
    at = 0
    for b in blocks:
        m[at : at + b.shape[0], at : at + b.shape[0]] = b
        at += b.shape[0]
    cascade = CascadeParameters.from_params(params)
    ki = dict(cascade.ki_um)
    adverse = AdverseParameters.from_params(params)
    return CourseODE(
        states=(*states, *ODE_STATES, *EXTRA_STATES),
        n_pk=n_pk,
        rate_matrix_per_h=m,
        plasma_ng_ml=plasma,
        free_brain_um=free,
        ki_um={s: ki[s] for s in free},
        cascade=cascade,
        norm=dict(normalisers(cascade)),
        tau_mood_h=params["cascade.tau_mood_onset_h"],
        tau_tolerance_h=adverse.tau_tolerance_h,
        tau_acute_h=adverse.tau_acute_h,
        acute_fraction=adverse.acute_fraction,
        auc_one_session_h=reference_occupancy_auc(cascade),
        inputs=tuple(sorted(events)),
    )


def integrate_with_events(
    rhs: Callable[[float, FloatArray], FloatArray],
    n_states: int,
    events: Sequence[InputEvent],
    times_h: FloatArray,
    *,
    method: str = "LSODA",
    rtol: float = 1e-10,
    atol: float = 1e-14,
) -> FloatArray:
    """States (times × n) of dy/dt = rhs + inputs by ``solve_ivp``, restarting at every input
    start and end (a bolus is a jump in its state)."""
    times_h = np.asarray(times_h, dtype=np.float64)
    breaks = sorted({0.0, *(e[0] for e in events), *(e[0] + e[3] for e in events if e[3] > 0)})
    t_end = float(times_h[-1])
    breaks = [b for b in breaks if b < t_end] + [t_end]
    y = np.zeros(n_states)
    out = np.zeros((times_h.size, n_states))
    for a, b in itertools.pairwise(breaks):
        for start, idx, amount, dur in events:
            if dur == 0 and start == a:
                y[idx] += amount
        rates = np.zeros(n_states)
        for start, idx, amount, dur in events:
            if dur > 0 and start <= a < start + dur - 1e-15:
                rates[idx] += amount / dur

        def f(t: float, x: FloatArray, rates: FloatArray = rates) -> FloatArray:
            return rhs(t, x) + rates

        mask = (times_h >= a) & (times_h < b)
        if b > a:
            sol = solve_ivp(f, (a, b), y, method=method, rtol=rtol, atol=atol, t_eval=np.append(times_h[mask], b))
            if not sol.success:
                raise RuntimeError(sol.message)
            out[mask] = sol.y.T[:-1]
            y = sol.y[:, -1]
    out[times_h >= t_end] = y
    return out


def solve_reference(
    ode: CourseODE, times_h: FloatArray, *, method: str = "LSODA", rtol: float = 1e-10, atol: float = 1e-14
) -> dict[str, FloatArray]:
    """Outputs at ``times_h`` by ``solve_ivp``: plasma concentrations, occupancy and every
    cascade, mood and tolerance state and the dissociative drive, named as in :class:`ketasim.model.CourseResult`."""
    y = integrate_with_events(ode.rhs(), len(ode.states), ode.inputs, times_h, method=method, rtol=rtol, atol=atol)
    c0 = ode.n_pk
    col = {name: c0 + i for i, name in enumerate(ODE_STATES)}
    out = {f"plasma.{a}": y[:, i] * f for a, (i, f) in ode.plasma_ng_ml.items()}
    out["nmda_occupancy"] = np.array([ode.occupancy(row) for row in y])
    surge = np.maximum(y[:, col["disinhibition"]] - y[:, col["adaptation"]], 0.0)
    out["glutamate"] = ode.cascade.glutamate_peak_rise * surge / ode.norm["surge"]
    out.update({name: y[:, col[name]] for name in ODE_STATES if name != "adaptation"})
    out["synapses"] = y[:, col["spines_transient"]] + y[:, col["spines_stable"]]
    extra = {name: y[:, c0 + len(ODE_STATES) + i] for i, name in enumerate(EXTRA_STATES)}
    out["mood_drive_fast"] = extra["mood_drive_fast"]
    out["dissociation_tolerance"] = extra["dissociation_tolerance"]
    adaptation = extra["dissociation_adaptation"]
    out["dissociative_drive"] = np.maximum(out["nmda_occupancy"] - ode.acute_fraction * adaptation, 0.0)
    return out
