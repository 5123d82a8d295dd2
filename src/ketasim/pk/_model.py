"""PK models: published parameter files turned into exact, vectorised simulations."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq

from ketasim.covariates import Covariates
from ketasim.errors import DoseError, InputError
from ketasim.pk._files import PKModelFile, Route, RouteInput, load_pk_file
from ketasim.pk._individual import individual_parameters
from ketasim.pk._linear import decompose, reachable, solve_inputs
from ketasim.pk._march import ROUND_OFF, grid_holds_inputs, march_rows
from ketasim.pk._structures import (
    FIRST_ORDER_ROUTES,
    STRUCTURES,
    compartments_of,
    is_sink,
    rate_matrix,
)
from ketasim.regimens import Dose, expand
from ketasim.vocabulary import drug as drug_entry
from ketasim.vocabulary import names, vocabulary

if TYPE_CHECKING:  # a sampler of ketasim.pd._filters (pk does not import pd)
    from ketasim.pd._filters import Sampler

FloatArray = NDArray[np.float64]

NG_ML_PER_MG_L = 1000.0
IV_MIN_DURATION_H = 1.0 / 60.0  # Ketalar label: give an IV dose over at least 60 s


@dataclass(frozen=True)
class PKResult:
    """Simulated exposure of P patients at T times.

    ``concentrations_ng_ml`` and ``effect_site_ng_ml`` map analyte → (P, T);
    ``free_brain_um`` maps species (``s_ketamine``, ``r_norketamine``, …) → unbound
    effect-site concentration (µM) with (P, T), worked out when first read from the effect
    site and ``free_per_ng_ml`` (species → its analyte and µM unbound per ng/mL, (P,));
    ``amounts_mg`` is (P, T, n) over ``compartments`` (sinks included, effect-site states
    excluded).  ``concentrations_ng_ml`` are venous (the sampling site of the models'
    sources); ``arterial_ng_ml`` adds the front end of a model with one (see
    :attr:`PKModelFile.cardiac_output`), and equals the venous values otherwise.
    """

    times_h: FloatArray
    analytes: tuple[str, ...]
    concentrations_ng_ml: dict[str, FloatArray]
    arterial_ng_ml: dict[str, FloatArray]
    effect_site_ng_ml: dict[str, FloatArray]
    free_per_ng_ml: dict[str, tuple[str, FloatArray]]
    compartments: tuple[str, ...]
    amounts_mg: FloatArray

    @cached_property
    def free_brain_um(self) -> dict[str, FloatArray]:
        """Unbound effect-site concentration (µM) of every species, (P, T)."""
        return self.free_brain_um_from(lambda x: x)

    def free_brain_um_from(self, at: Callable[[FloatArray], FloatArray]) -> dict[str, FloatArray]:
        """Unbound effect-site concentration (µM) of every species at the times ``at`` picks
        from the effect site's (for example a :class:`ketasim.pd._filters.Sampler`)."""
        return {
            name: at(self.effect_site_ng_ml[analyte]) * per_ng_ml[:, None]
            for name, (analyte, per_ng_ml) in self.free_per_ng_ml.items()
        }

    def blocking_load(self, ki_um: Mapping[str, float]) -> FloatArray:
        """Σ_species C_u/K_i (P, T): the NMDA blocking load of the unbound effect-site species,
        each analyte's species summed before touching the full grid."""
        per_analyte: dict[str, FloatArray] = {}
        for name, (analyte, per_ng_ml) in self.free_per_ng_ml.items():
            per_analyte[analyte] = per_analyte.get(analyte, 0.0) + per_ng_ml / ki_um[name]
        load, *rest = (self.effect_site_ng_ml[analyte] * weight[:, None] for analyte, weight in per_analyte.items())
        for term in rest:
            load += term
        return load


@dataclass(frozen=True)
class _Inputs:
    compartment: NDArray[np.intp]
    start_h: FloatArray
    duration_h: FloatArray
    amount_mg: FloatArray


@dataclass(frozen=True)
class LinearSystem:
    """The PK model of P patients as dx/dt = M x + inputs (amounts in mg; effect sites in mg/L).

    ``plasma_ng_ml`` and ``free_brain_um`` map an analyte or species to (state index, factor
    per patient): concentration = factor × state.
    """

    rate_matrix_per_h: FloatArray
    states: tuple[str, ...]
    n_mass: int
    plasma_ng_ml: dict[str, tuple[int, FloatArray]]
    free_brain_um: dict[str, tuple[int, FloatArray]]
    params: dict[str, FloatArray]
    covariates: Covariates


def _fraction(expr: str | float, params: dict[str, FloatArray]) -> FloatArray | float:
    """Evaluate a route fraction: a product of factors, each ``name``, ``1-name`` or a number."""
    if isinstance(expr, float | int):
        return float(expr)
    value: FloatArray | float = 1.0
    for factor in (f.strip() for f in expr.split("*")):
        if factor.startswith("1-"):
            value = value * (1.0 - params[factor[2:].strip()])
        elif factor in params:
            value = value * params[factor]
        else:
            value = value * float(factor)
    return value


@dataclass(frozen=True)
class PKModel:
    """A published PK model (immutable), simulated exactly for many patients at once.

    >>> model = load_model("racemic_ketamine")
    >>> res = model.simulate([Dose(amount_mg_per_kg=0.5, duration_h=40 / 60)], [40 / 60])
    >>> round(float(res.concentrations_ng_ml["ketamine"][0, 0]))
    177
    """

    spec: PKModelFile

    @property
    def drug(self) -> str:
        """``racemic_ketamine`` or ``esketamine``."""
        return self.spec.drug

    @property
    def analytes(self) -> tuple[str, ...]:
        """Plasma analytes, parent first."""
        return tuple(a.name for a in self.spec.analytes)

    @property
    def routes(self) -> tuple[str, ...]:
        """Routes this model can simulate."""
        return tuple(self.spec.routes)

    def route(self, name: str) -> Route:
        """The route's definition, or a :class:`DoseError` listing the available routes."""
        if name not in self.spec.routes:
            raise DoseError("route", name, f"{self.drug} is modelled for: {', '.join(self.routes)}")
        return self.spec.routes[name]

    def check_dose(self, dose: Dose, weight_kg: float | FloatArray) -> None:
        """Refuse (never clip) a dose outside the route's clinical bounds for any of the body
        weights ``weight_kg`` (bounds and their sources: the routes of the PK file)."""
        route = self.route(dose.route)
        weights = np.atleast_1d(np.asarray(weight_kg, dtype=np.float64))
        amounts = dose.amounts_for(weights)
        field = "amount_mg_per_kg" if dose.amount_mg_per_kg is not None else "amount_mg"
        shown = dose.amount_mg_per_kg if dose.amount_mg_per_kg is not None else dose.amount_mg
        devices = route.devices
        if devices is not None and dose.amount_mg is None:
            raise DoseError(
                "amount_mg_per_kg",
                shown,
                f"{self.drug} {dose.route} is given in whole {devices.device_mg:g} mg devices: give amount_mg "
                f"({devices.source})",
            )
        if route.allowed_session_mg is not None and not any(
            math.isclose(float(amounts[0]), a, rel_tol=1e-9) for a in route.allowed_session_mg
        ):
            allowed = ", ".join(f"{a:g}" for a in route.allowed_session_mg)
            raise DoseError(field, shown, f"one {dose.route} session is {allowed} mg ({route.bound_source})")
        if devices is not None:
            n_devices = float(amounts[0]) / devices.device_mg
            if not math.isclose(n_devices, round(n_devices), rel_tol=1e-9) or round(n_devices) < 1:
                raise DoseError(
                    field,
                    shown,
                    f"one {dose.route} session is a whole number of {devices.device_mg:g} mg devices "
                    f"({devices.source})",
                )
        per_kg = amounts / weights
        if route.max_single_dose_mg_per_kg is not None and np.any(
            per_kg > route.max_single_dose_mg_per_kg * (1 + 1e-9)
        ):
            worst = float(np.max(per_kg))
            raise DoseError(
                field,
                shown,
                f"at most {route.max_single_dose_mg_per_kg:g} mg/kg per {dose.route} dose "
                f"({worst:.3g} mg/kg asked; {route.bound_source})",
            )
        if route.max_single_dose_mg is not None and np.any(amounts > route.max_single_dose_mg * (1 + 1e-9)):
            worst = float(np.max(amounts))
            raise DoseError(
                field,
                shown,
                f"at most {route.max_single_dose_mg:g} mg per {dose.route} dose "
                f"({worst:.4g} mg asked; {route.bound_source})",
            )
        if vocabulary().routes[dose.route].infusion:
            durations = dose.durations_h(amounts)
            if np.any(durations < IV_MIN_DURATION_H):
                raise DoseError(
                    "duration_h", float(np.min(durations)), "an IV dose is given over at least 1 min (Ketalar label)"
                )

    def check_doses(self, doses: Sequence[Dose], covariates: Covariates) -> None:
        """Refuse any dose of a regimen outside the clinical bounds for any patient."""
        weights = np.unique(covariates.weight_kg)
        checked: set[Dose] = set()
        for dose in expand(list(doses)):
            single = dose.model_copy(update={"time_h": 0.0})
            if single not in checked:
                self.check_dose(single, weights)
                checked.add(single)

    def _inputs(
        self,
        doses: Sequence[Dose],
        params: dict[str, FloatArray],
        covariates: Covariates,
        index: dict[str, int],
        scale: FloatArray | None = None,
    ) -> _Inputs:
        """Input records of the doses; ``scale`` (P, R) multiplies each patient's amount of
        each single record (0: not given), for courses that follow the patient."""
        cmt: list[int] = []
        start: list[FloatArray] = []
        dur: list[FloatArray] = []
        amt: list[FloatArray] = []
        n = covariates.n
        records = list(doses) if scale is not None else list(expand(list(doses)))
        if scale is not None and (scale.shape != (n, len(records)) or any(d.additional for d in records)):
            raise ValueError("a dose scale needs one column per single dose record")
        for j, dose in enumerate(records):
            route = self.route(dose.route)
            nominal = dose.amounts_for(covariates.weight_kg)
            if scale is not None:
                nominal = nominal * scale[:, j]
            relative_f = dose.bioavailability or 1.0
            duration = dose.durations_h(nominal)
            parts: list[tuple[float, FloatArray, dict[str, FloatArray]]]
            if route.devices is not None:
                devices = route.devices
                count = nominal / devices.device_mg
                if np.any(np.abs(count - np.round(count)) > 1e-9 * np.maximum(count, 1.0)):
                    raise DoseError("amount_mg", float(np.max(nominal)), f"whole {devices.device_mg:g} mg devices")
                count = np.round(count)
                first = params[devices.first_device_fraction]
                later = first * params[devices.later_device_factor]
                parts = [
                    (
                        dose.time_h + k * devices.interval_min / 60.0,
                        np.where(k < count, devices.device_mg, 0.0),
                        {devices.first_device_fraction: first if k == 0 else later},
                    )
                    for k in range(int(np.max(count, initial=0)))
                ]
            else:
                parts = [(dose.time_h, nominal, {})]
            for time_h, amount, overrides in parts:
                local = {**params, **overrides}
                for route_input in route.inputs:
                    cmt.append(index[route_input.compartment])
                    start.append(np.full(n, time_h + dose.lag_h))
                    dur.append(self._input_duration(route_input, duration, params))
                    amt.append(amount * relative_f * _fraction(route_input.fraction, local))
                    if self._through_the_lungs(route_input.compartment):
                        # dCe/dt = ke0·(C_venous + rate/Q_co − Ce): the front end feeds the
                        # effect site ke0/Q_co (mg/L per mg) of the input, at the same rate
                        cmt.append(index[f"effect_{self.spec.analytes[0].name}"])
                        start.append(start[-1])
                        dur.append(dur[-1])
                        amt.append(amt[-1] * self._ke0_per_h / params[self.spec.cardiac_output or ""])
        if not cmt:
            zeros = np.zeros((n, 0))
            return _Inputs(np.zeros(0, dtype=np.intp), zeros, zeros, zeros)
        return _Inputs(
            compartment=np.array(cmt, dtype=np.intp),
            start_h=np.stack(start, axis=1),
            duration_h=np.stack(dur, axis=1),
            amount_mg=np.stack(amt, axis=1),
        )

    @cached_property
    def _ke0_per_h(self) -> float:
        """Plasma–effect-site rate constant (1/h), from t½,ke0 (Olofsen 2012)."""
        return math.log(2.0) / (self.spec.parameters["ke0_half_life_min"].value / 60.0)

    def _through_the_lungs(self, compartment: str) -> bool:
        """Whether an input into ``compartment`` reaches arterial blood by the front end: it
        enters the parent's central (venous) compartment and the model has a cardiac output."""
        return self.spec.cardiac_output is not None and compartment == self.spec.analytes[0].central

    def _arterial_excess_ng_ml(self, inputs: _Inputs, system: LinearSystem, times_h: FloatArray) -> FloatArray:
        """Arterial minus venous parent concentration (P, T): every running input into the
        central compartment over the cardiac output (rate/Q_co), an infusion counted on
        (start, end]; 0 without a front end."""
        excess = np.zeros((system.covariates.n, times_h.size))
        if self.spec.cardiac_output is None:
            return excess
        central = system.states.index(self.spec.analytes[0].central)
        q_co = system.params[self.spec.cardiac_output]
        for k in np.flatnonzero(inputs.compartment == central):
            start, duration = inputs.start_h[:, k : k + 1], inputs.duration_h[:, k : k + 1]
            running = (times_h > start) & (times_h <= start + duration) & (duration > 0)
            rate = np.divide(inputs.amount_mg[:, k : k + 1], duration, out=np.zeros_like(duration), where=duration > 0)
            excess += running * (NG_ML_PER_MG_L * rate / q_co[:, None])
        return excess

    @staticmethod
    def _input_duration(route_input: RouteInput, duration: FloatArray, params: dict[str, FloatArray]) -> FloatArray:
        if route_input.zero_order_duration is not None:
            return params[route_input.zero_order_duration]
        return duration

    def input_windows(
        self, doses: Sequence[Dose], covariates: Covariates | None = None, scale: FloatArray | None = None
    ) -> list[tuple[float, float, float]]:
        """(start_h, end_h, absorption_h) of every drug input (after lag; a bolus has start = end),
        shared by the population (for each start, the latest end): the jump points of the
        input.  ``absorption_h`` is 3/k_out for an input into a depot (0 into a central
        compartment or, by the arterial front end, an effect site), k_out its slowest
        patient's outflow rate: how long after its end the input still changes fast.  With a
        dose ``scale``, every input some patient receives."""
        cov = covariates or Covariates.one()
        system = self.linear_system(cov)
        widest = None if scale is None else np.broadcast_to(np.max(scale, axis=0), (cov.n, scale.shape[1]))
        inputs = self.dose_inputs(doses, system, widest)
        starts, which = np.unique(np.round(inputs.start_h.ravel(), 9), return_inverse=True)
        ends = starts.copy()
        np.maximum.at(ends, which, (inputs.start_h + inputs.duration_h).ravel())
        central = {i for i, _ in system.plasma_ng_ml.values()} | {i for i, _ in system.free_brain_um.values()}
        outflow = -np.min(np.diagonal(system.rate_matrix_per_h, axis1=1, axis2=2), axis=0)
        settle = np.array([0.0 if i in central else 3.0 / max(k, 1e-9) for i, k in enumerate(outflow)])
        absorption = np.zeros_like(starts)
        np.maximum.at(absorption, which, np.broadcast_to(settle[inputs.compartment], inputs.start_h.shape).ravel())
        return [(float(s), float(e), float(a)) for s, e, a in zip(starts, ends, absorption, strict=True)]

    def steady_free_brain_um(self, parent_plasma_ng_ml: float) -> dict[str, float]:
        """Unbound brain concentrations (µM) of the parent drug's species while its plasma
        concentration has been held at ``parent_plasma_ng_ml`` long enough for the effect site
        to equal it (a target-controlled infusion): C·fraction·f_u/M, with the typical patient's
        factors of :meth:`linear_system`.  Metabolites are left out: a measured steady
        concentration is the parent's."""
        parent = self.spec.analytes[0].name
        free = self.linear_system(Covariates.one()).free_brain_um
        return {
            s.name: parent_plasma_ng_ml / NG_ML_PER_MG_L * float(free[s.name][1][0])
            for s in self.spec.species
            if s.analyte == parent
        }

    def linear_system(self, covariates: Covariates, etas: dict[str, FloatArray] | None = None) -> LinearSystem:
        """Each patient's rate matrix (mass compartments, then one effect site per analyte)."""
        params = individual_parameters(self.spec, covariates, etas)
        ka = {r: np.full(covariates.n, k) for r, k in _absorption_rates(self.spec.name).items()}
        flows = STRUCTURES[self.spec.structure](params, ka)
        mass_cmts = compartments_of(flows)
        effect = tuple(f"effect_{a.name}" for a in self.spec.analytes)
        states = mass_cmts + effect
        index = {name: i for i, name in enumerate(states)}
        m = np.zeros((covariates.n, len(states), len(states)))
        m[:, : len(mass_cmts), : len(mass_cmts)] = rate_matrix(flows, mass_cmts, covariates.n)
        ke0 = self._ke0_per_h
        for analyte, e_name in zip(self.spec.analytes, effect, strict=True):
            # dCe/dt = ke0 · (A_central / V − Ce): Ce in mg/L, no mass taken from plasma (the
            # arterial front end adds ke0·rate/Q_co as an input: see _inputs).
            e = index[e_name]
            m[:, e, index[analyte.central]] = ke0 / params[analyte.volume]
            m[:, e, e] = -ke0
        molar = {a.name: a.molar_mass_g_mol for a in self.spec.analytes}
        free = {
            s.name: (
                index[f"effect_{s.analyte}"],
                NG_ML_PER_MG_L * s.fraction * params[s.unbound_fraction] / molar[s.analyte],
            )
            for s in self.spec.species
        }
        plasma = {a.name: (index[a.central], NG_ML_PER_MG_L / params[a.volume]) for a in self.spec.analytes}
        return LinearSystem(
            rate_matrix_per_h=m,
            states=states,
            n_mass=len(mass_cmts),
            plasma_ng_ml=plasma,
            free_brain_um=free,
            params=params,
            covariates=covariates,
        )

    def dose_inputs(self, doses: Sequence[Dose], system: LinearSystem, scale: FloatArray | None = None) -> _Inputs:
        """Input records (compartment, start, duration, amount per patient) of the doses
        (``scale``: per-patient multipliers of single records, see :meth:`_inputs`)."""
        index = {name: i for i, name in enumerate(system.states)}
        return self._inputs(doses, system.params, system.covariates, index, scale)

    def simulate(
        self,
        doses: Sequence[Dose],
        times_h: Sequence[float] | FloatArray,
        covariates: Covariates | None = None,
        etas: dict[str, FloatArray] | None = None,
        *,
        amounts: bool = True,
        check: bool = True,
        scale: FloatArray | None = None,
    ) -> PKResult:
        """Exposure at ``times_h`` (hours) for every patient in ``covariates`` (default: one
        70 kg, 40-year-old man), with optional random effects ``etas`` (name → (P,)).
        ``amounts=False`` skips the compartment amounts (faster: only what is observed).
        Doses outside the clinical bounds raise :class:`ketasim.errors.DoseError` unless
        ``check=False`` (for mathematical checks of the solver only).  ``scale`` (P, R)
        multiplies each patient's amount of each single record: a course that follows the
        patient (0 = the session is not given)."""
        cov = covariates or Covariates.one()
        times = np.asarray(times_h, dtype=np.float64)
        if times.ndim != 1 or not np.all(np.isfinite(times)) or np.any(times < 0):
            raise DoseError("times_h", "(non-finite or negative)", "finite times ≥ 0 h")
        if check:
            self.check_doses(doses, cov)
        system = self.linear_system(cov, etas)
        inputs = self.dose_inputs(doses, system, scale)
        analytes = self.spec.analytes
        observed = [system.plasma_ng_ml[a.name][0] for a in analytes] + [
            system.states.index(f"effect_{a.name}") for a in analytes
        ]
        rows = np.arange(system.n_mass) if amounts else np.array([], dtype=np.intp)
        select = np.concatenate([np.asarray(observed, dtype=np.intp), rows])
        units = np.ones((select.size, cov.n))  # ng/mL for the observed states, mg for the amounts
        units[: len(analytes)] = np.stack([system.plasma_ng_ml[a.name][1] for a in analytes])
        units[len(analytes) : len(observed)] = NG_ML_PER_MG_L
        y, _ = _solve(system.rate_matrix_per_h, times, inputs, _one_hot(select, units, len(system.states)))
        return self._result(system, times, y, amounts, self._arterial_excess_ng_ml(inputs, system, times))

    def simulate_load(
        self,
        doses: Sequence[Dose],
        times_h: FloatArray,
        covariates: Covariates,
        etas: dict[str, FloatArray] | None,
        ki_um: Mapping[str, float],
        output_times_h: FloatArray,
        at: Sampler,
        *,
        scale: FloatArray | None = None,
    ) -> tuple[PKResult, FloatArray]:
        """The NMDA blocking load Σ_species C_u/K_i (P, T) on the nodes ``times_h`` and the
        exposure (a :class:`PKResult` without amounts) at ``output_times_h`` only (``at``
        samples them from the nodes):
        the load is one linear combination of the states, marched as one row, so no
        concentration is kept on the full grid (doses are not checked: see :meth:`simulate`)."""
        times = np.asarray(times_h, dtype=np.float64)
        system = self.linear_system(covariates, etas)
        inputs = self.dose_inputs(doses, system, scale)
        analytes = self.spec.analytes
        n_states = len(system.states)
        load = np.zeros((1, n_states, covariates.n))
        for name, (i, factor) in system.free_brain_um.items():
            load[0, i] += factor / ki_um[name]  # µM per mg/L of the effect site, over K_i
        plasma = [system.plasma_ng_ml[a.name] for a in analytes]
        effect = [system.states.index(f"effect_{a.name}") for a in analytes]
        observed = np.array([i for i, _ in plasma] + effect, dtype=np.intp)
        units = np.concatenate([np.stack([u for _, u in plasma]), np.full((len(effect), covariates.n), NG_ML_PER_MG_L)])
        full, sampled = _solve(system.rate_matrix_per_h, times, inputs, load, _one_hot(observed, units, n_states), at)
        out_h = np.asarray(output_times_h, dtype=np.float64)
        excess = self._arterial_excess_ng_ml(inputs, system, out_h)
        return self._result(system, out_h, sampled, False, excess), full[0]

    def _result(
        self, system: LinearSystem, times: FloatArray, y: FloatArray, amounts: bool, arterial_excess: FloatArray
    ) -> PKResult:
        """The :class:`PKResult` of solved rows: plasma, then effect sites, then amounts;
        ``arterial_excess`` (P, T) is the parent's arterial minus venous concentration."""
        analytes = self.spec.analytes
        n_an = len(analytes)
        n_obs = 2 * n_an
        free_per_ng_ml = {
            name: (system.states[i][len("effect_") :], factor / NG_ML_PER_MG_L)
            for name, (i, factor) in system.free_brain_um.items()
        }
        mass_cmts = system.states[: system.n_mass]
        return PKResult(
            times_h=times,
            analytes=self.analytes,
            concentrations_ng_ml={a.name: y[k] for k, a in enumerate(analytes)},
            arterial_ng_ml={a.name: y[k] + arterial_excess if k == 0 else y[k] for k, a in enumerate(analytes)},
            effect_site_ng_ml={a.name: y[n_an + k] for k, a in enumerate(analytes)},
            free_per_ng_ml=free_per_ng_ml,
            compartments=mass_cmts,
            amounts_mg=np.moveaxis(y[n_obs:], 0, 2) if amounts else np.zeros((system.covariates.n, times.size, 0)),
        )


def _one_hot(select: NDArray[np.intp], units: FloatArray, n_states: int) -> FloatArray:
    """Rows (R, n_states, P) that observe the states ``select``, each times its ``units`` (R, P)."""
    rows = np.zeros((select.size, n_states, units.shape[1]))
    rows[np.arange(select.size), select] = units
    return rows


def _solve(
    rate_matrix_per_h: FloatArray,
    times: FloatArray,
    inputs: _Inputs,
    rows: FloatArray,
    rows_at: FloatArray | None = None,
    at: Sampler | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Linear combinations of the states: ``rows`` (R, n_states, P) on ``times``, (R, P, T),
    and ``rows_at`` (Q, n_states, P) at the output times of ``at``, (Q, P, outputs).  Solved
    on the states the inputs reach (:func:`reachable`; the others are zero), by the modal
    march when the grid holds every input's start and end, else by superposition; round-off
    of the eigen-basis change (within :data:`ROUND_OFF` of the patient's peak over each set
    of rows) is 0."""
    n_pat = rate_matrix_per_h.shape[0]
    keep = reachable(rate_matrix_per_h, inputs.compartment)
    position = np.full(rate_matrix_per_h.shape[-1], -1, dtype=np.intp)
    position[keep] = np.arange(keep.size)
    at_rows = rows_at if rows_at is not None else np.zeros((0, *rows.shape[1:]))
    n_out = 0 if at is None else at.left.size
    if keep.size == 0:  # no input: every state stays 0
        return np.zeros((rows.shape[0], n_pat, times.size)), np.zeros((at_rows.shape[0], n_pat, n_out))
    system = decompose(rate_matrix_per_h[:, keep[:, None], keep[None, :]])
    args = (system, times, position[inputs.compartment], inputs.start_h, inputs.duration_h, inputs.amount_mg)
    if grid_holds_inputs(times, inputs.start_h, inputs.duration_h):
        modal = np.einsum("rsp,psn->prn", rows[:, keep], system.vectors)
        modal_at = np.einsum("rsp,psn->prn", at_rows[:, keep], system.vectors)
        full, sampled = march_rows(*args, modal, modal_at, at)
        return np.ascontiguousarray(full), sampled
    states = solve_inputs(*args)  # (P, T, kept)
    full = _zero_round_off(np.einsum("rsp,pts->rpt", rows[:, keep], states))
    sampled = np.zeros((at_rows.shape[0], n_pat, n_out))
    if at is not None and at_rows.shape[0]:
        sampled = _zero_round_off(at(np.einsum("rsp,pts->rpt", at_rows[:, keep], states)))
    return full, sampled


def _zero_round_off(y: FloatArray) -> FloatArray:
    """Values within :data:`ROUND_OFF` of each patient's peak over the rows (R, P, T) set to 0."""
    magnitude = np.abs(y)
    np.putmask(y, magnitude <= ROUND_OFF * np.max(magnitude, axis=(0, 2), keepdims=True, initial=0.0), 0.0)
    return y


@cache
def _absorption_rates(model_name: str) -> dict[str, float]:
    """First-order ka (1/h) per route, derived so that a typical 70 kg patient's parent
    Tmax after a single dose equals the published Tmax (``tmax_<route>_h``)."""
    spec = load_pk_file(model_name)
    if spec.structure != "parent_metabolite_first_order":
        return {}
    params = individual_parameters(spec, Covariates.one())
    rates: dict[str, float] = {}
    for route in FIRST_ORDER_ROUTES:
        if route not in spec.routes:
            continue
        target = spec.parameters[f"tmax_{route}_h"].value
        grid = np.linspace(0.0, 4.0 * target, 4001)

        def tmax_minus_target(
            log_ka: float, route: str = route, grid: FloatArray = grid, target: float = target
        ) -> float:
            flows = STRUCTURES[spec.structure](params, {route: np.array([math.exp(log_ka)])})
            cmts = compartments_of(flows)
            system = decompose(rate_matrix(flows, cmts, 1))
            x = solve_inputs(
                system, grid, np.array([cmts.index(f"depot_{route}")]), np.zeros(1), np.zeros(1), np.ones(1)
            )[0, :, cmts.index("central")]
            i = int(np.clip(np.argmax(x), 1, grid.size - 2))
            y0, y1, y2 = x[i - 1], x[i], x[i + 1]
            denom = y0 - 2.0 * y1 + y2
            shift = 0.5 * (y0 - y2) / denom if denom != 0.0 else 0.0
            return float(grid[i] + shift * (grid[1] - grid[0]) - target)

        rates[route] = math.exp(brentq(tmax_minus_target, math.log(0.05), math.log(500.0), xtol=1e-10))
    return rates


def absorption_rates(model_name: str) -> dict[str, float]:
    """Public view of the derived absorption rate constants (1/h) of a model."""
    return dict(_absorption_rates(model_name))


PK_MODELS = ("clements_1981", "domino_1982", "perez_ruixo_2021")
"""The packaged PK model files (``data/pk``)."""


def load_model(drug_or_name: str) -> PKModel:
    """The default model for a drug of the vocabulary (``racemic_ketamine`` → Clements 1981,
    ``esketamine`` → Perez-Ruixo 2021) or a model by file name (:data:`PK_MODELS`)."""
    name = drug_entry(drug_or_name).pk_model if drug_or_name in names("drugs") else drug_or_name
    if name not in PK_MODELS:
        allowed = ", ".join((*names("drugs"), *PK_MODELS))
        raise InputError.one("drug", f"{drug_or_name!r} is not a drug or a packaged PK model; allowed: {allowed}")
    return _load_model(name)


@cache
def _load_model(name: str) -> PKModel:
    return PKModel(load_pk_file(name))


def mass_compartments(result: PKResult) -> tuple[str, ...]:
    """Compartments holding drug in the body (sinks excluded)."""
    return tuple(c for c in result.compartments if not is_sink(c))
