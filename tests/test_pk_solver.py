"""The exact solver against independent ODE references at rtol 1e-10 (≤ 1e-6 relative)."""

from __future__ import annotations

import math
import subprocess
import sys
from decimal import Decimal, localcontext

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order

from ketasim.covariates import Covariates
from ketasim.pk import absorption_rates, individual_parameters, load_model, load_pk_file
from ketasim.pk._linear import _phi1, decompose, reachable, solve_inputs
from ketasim.pk._march import grid_holds_inputs, march_inputs
from ketasim.regimens import Dose
from reference import reference_solution

TIMES_H = np.unique(np.concatenate([np.linspace(0, 3, 91), np.linspace(3, 48, 46)]))


def _max_rel_err(a: np.ndarray, b: np.ndarray) -> float:
    scale = np.max(np.abs(b))
    mask = np.abs(b) > 1e-6 * scale  # ignore values a million times below the peak
    return float(np.max(np.abs(a[mask] - b[mask]) / np.abs(b[mask])))


def test_esketamine_matches_hand_written_perez_ruixo_odes() -> None:
    """Nasal 84 mg session, a 40-min IV infusion overlapping it, and an oral dose."""
    p = {k: float(v[0]) for k, v in individual_parameters(load_pk_file("perez_ruixo_2021"), Covariates.one()).items()}
    ke0 = math.log(2) / (6.1 / 60)

    # states: 0 nasal, 1 swallowed, 2 oral, 3 central, 4 p1, 5 p2, 6 liver, 7 nesk c, 8 nesk p, 9 Ce, 10 Ce_n
    def rhs(t: float, x: np.ndarray) -> np.ndarray:
        d = np.zeros(11)
        d[0] = -p["ka_n_per_h"] * x[0]
        d[1] = -p["ka_sw_per_h"] * x[1]
        d[2] = -p["ka_po_per_h"] * x[2]
        vc = p["Vc_L"]
        d[3] = (
            p["ka_n_per_h"] * x[0]
            + p["Q1_L_h"] / p["Vp1_L"] * x[4]
            + p["Q2_L_h"] / p["Vp2_L"] * x[5]
            + p["Qh_L_h"] / p["Vh_L"] * x[6]
            - (p["Q1_L_h"] + p["Q2_L_h"] + p["Qh_L_h"]) / vc * x[3]
        )
        d[4] = p["Q1_L_h"] / vc * x[3] - p["Q1_L_h"] / p["Vp1_L"] * x[4]
        d[5] = p["Q2_L_h"] / vc * x[3] - p["Q2_L_h"] / p["Vp2_L"] * x[5]
        d[6] = (
            p["ka_sw_per_h"] * x[1]
            + p["ka_po_per_h"] * x[2]
            + p["Qh_L_h"] / vc * x[3]
            - (p["Qh_L_h"] / p["Vh_L"] + p["kel_per_h"] + p["kmet_per_h"]) * x[6]
        )
        d[7] = (
            p["kmet_per_h"] * x[6] + p["Q3_L_h"] / p["Vpn_L"] * x[8] - (p["CLn_L_h"] + p["Q3_L_h"]) / p["Vcn_L"] * x[7]
        )
        d[8] = p["Q3_L_h"] / p["Vcn_L"] * x[7] - p["Q3_L_h"] / p["Vpn_L"] * x[8]
        d[9] = ke0 * (x[3] / vc - x[9])
        d[10] = ke0 * (x[7] / p["Vcn_L"] - x[10])
        return d

    frn = [p["FRn"], p["FRn"] * 0.62, p["FRn"] * 0.62]
    events = []
    for k, f in enumerate(frn):
        t = 1.0 + k * 5 / 60
        events += [(t, 0, 28 * f, 0.0), (t, 1, 28 * (1 - f) * p["Fgut"], p["Dsw_h"])]
    # the IV infusion raises arterial blood by its rate over the cardiac output (Henthorn 2018),
    # and the effect site follows arterial blood: ke0·rate/Qco more into Ce while it runs
    q_co = p["Qco_L_h"]
    events += [(1.5, 3, 20.0, 40 / 60), (1.5, 9, ke0 * 20.0 / q_co, 40 / 60), (6.0, 2, 50 * p["Fgut"], p["Dpo_h"])]
    ref = reference_solution(rhs, 11, events, TIMES_H)
    running = (TIMES_H > 1.5) & (TIMES_H <= 1.5 + 40 / 60)
    doses = [
        Dose(time_h=1.0, amount_mg=84, route="intranasal"),
        Dose(time_h=1.5, amount_mg=20, route="iv", duration_h=40 / 60),
        Dose(time_h=6.0, amount_mg=50, route="oral"),
    ]
    res = load_model("esketamine").simulate(doses, TIMES_H, check=False)
    assert _max_rel_err(res.concentrations_ng_ml["esketamine"][0], ref[:, 3] / p["Vc_L"] * 1000) < 1e-6
    assert _max_rel_err(res.concentrations_ng_ml["noresketamine"][0], ref[:, 7] / p["Vcn_L"] * 1000) < 1e-6
    assert _max_rel_err(res.effect_site_ng_ml["esketamine"][0], ref[:, 9] * 1000) < 1e-6
    arterial = (ref[:, 3] / p["Vc_L"] + running * 20.0 / (40 / 60) / q_co) * 1000
    assert _max_rel_err(res.arterial_ng_ml["esketamine"][0], arterial) < 1e-6


@pytest.mark.parametrize("model_name", ["clements_1981", "domino_1982"])
def test_racemic_matches_hand_written_odes(model_name: str) -> None:
    """Overlapping IV infusions, an oral dose during an infusion, IM and sublingual doses."""
    spec = load_pk_file(model_name)
    cov = Covariates.one(weight_kg=82, age_years=55, sex="female")
    p = {k: float(v[0]) for k, v in individual_parameters(spec, cov).items()}
    ka = absorption_rates(model_name)
    three = "Q3_L_h" in p
    routes = ["im", "oral", "sublingual"]

    # states: 0 central, 1 periph, 2 periph2, 3 met c, 4 met p, 5.. depots (im, oral, sublingual),
    # 8 gut-to-liver delay, 9 norketamine formation delay (Simons 2022 mean transit times)
    k_gut, k_form = 60.0 / p["mtt_gut_liver_min"], 60.0 / p["mtt_formation_min"]

    def rhs(t: float, x: np.ndarray) -> np.ndarray:
        d = np.zeros(10)
        v1, cl, q, v2 = p["V1_L"], p["CL_L_h"], p["Q_L_h"], p["V2_L"]
        q3, v3 = (p["Q3_L_h"], p["V3_L"]) if three else (0.0, 1.0)
        absorbed = sum(ka[r] * p[f"F_{r}"] * x[5 + i] for i, r in enumerate(routes))
        first_pass = sum(ka[r] * (1 - p[f"F_{r}"]) * p[f"fp_{r}"] * x[5 + i] for i, r in enumerate(routes))
        d[0] = absorbed + q / v2 * x[1] + q3 / v3 * x[2] - (cl + q + q3) / v1 * x[0]
        d[1] = q / v1 * x[0] - q / v2 * x[1]
        d[2] = q3 / v1 * x[0] - q3 / v3 * x[2]
        d[3] = (
            p["fm"] * cl / v1 * x[0]
            + k_form * x[9]
            + p["Qm_L_h"] / p["Vm2_L"] * x[4]
            - (p["CLm_L_h"] + p["Qm_L_h"]) / p["Vm1_L"] * x[3]
        )
        d[4] = p["Qm_L_h"] / p["Vm1_L"] * x[3] - p["Qm_L_h"] / p["Vm2_L"] * x[4]
        for i, r in enumerate(routes):
            d[5 + i] = -ka[r] * x[5 + i]
        d[8] = first_pass - k_gut * x[8]
        d[9] = k_gut * x[8] - k_form * x[9]
        return d

    dose_iv = 0.5 * 82
    events = [
        (0.0, 0, dose_iv, 40 / 60),  # infusion
        (0.25, 0, 10.0, 1.0),  # overlapping infusion starting during the first
        (0.5, 6, 50.0, 0.0),  # oral dose during an infusion
        (5.0, 5, 30.0, 0.0),  # IM
        (8.0, 7, 25.0, 0.0),  # sublingual
    ]
    ref = reference_solution(rhs, 10, events, TIMES_H)
    doses = [
        Dose(time_h=0, amount_mg_per_kg=0.5, duration_h=40 / 60),
        Dose(time_h=0.25, amount_mg=10, rate_mg_per_h=10),
        Dose(time_h=0.5, amount_mg=50, route="oral"),
        Dose(time_h=5, amount_mg=30, route="im"),
        Dose(time_h=8, amount_mg=25, route="sublingual"),
    ]
    res = load_model(model_name).simulate(doses, TIMES_H, cov, check=False)
    assert _max_rel_err(res.concentrations_ng_ml["ketamine"][0], ref[:, 0] / p["V1_L"] * 1000) < 1e-6
    assert _max_rel_err(res.concentrations_ng_ml["norketamine"][0], ref[:, 3] / p["Vm1_L"] * 1000) < 1e-6


def test_repeat_with_lag_equals_explicit_doses() -> None:
    """II/ADDL with ALAG: three repeats every 12 h, each lagged 30 min."""
    model = load_model("racemic_ketamine")
    repeated = model.simulate(
        [Dose(time_h=1, amount_mg=50, route="oral", lag_h=0.5, interval_h=12, additional=2)], TIMES_H
    )
    explicit = model.simulate([Dose(time_h=1.5 + 12 * k, amount_mg=50, route="oral") for k in range(3)], TIMES_H)
    np.testing.assert_allclose(repeated.amounts_mg, explicit.amounts_mg, rtol=1e-12, atol=1e-15)
    # nothing before the lagged first dose
    assert np.all(repeated.amounts_mg[0, TIMES_H < 1.5] == 0.0)


@pytest.mark.parametrize("k", [0.01, 0.3, 0.7, 5.0, 40.0])
def test_defective_system_matches_bateman_limit(k: float) -> None:
    """ka equal to k (a Jordan block) still gives C = D·k·t·e^{−kt}/V within 1e-6."""
    m = np.array([[[-k, 0.0, 0.0], [k, -k, 0.0], [0.0, k, 0.0]]])
    t = np.linspace(0, 30 / k, 301)
    x = solve_inputs(decompose(m), t, np.array([0]), np.zeros(1), np.zeros(1), np.array([100.0]))
    exact = 100.0 * k * t * np.exp(-k * t)
    assert _max_rel_err(x[0, :, 1], exact) < 1e-6
    np.testing.assert_allclose(x[0].sum(axis=1), 100.0, rtol=1e-7)


@settings(max_examples=25, deadline=None)
@given(
    doses=st.lists(
        st.tuples(
            st.integers(0, 1800).map(lambda minute: minute / 60),
            st.floats(1, 60),
            st.sampled_from(["iv", "im", "oral", "sublingual", "sc"]),
            st.integers(3, 180).map(lambda minutes: minutes / 60),
        ),
        min_size=1,
        max_size=4,
    ),
    weight=st.floats(40, 150),
)
# an infusion ending (210 + 19)/60 h and a dose at 229/60 h: one rounding apart (found by CI)
@example(doses=[(210 / 60, 10.0, "iv", 19 / 60), (229 / 60, 10.0, "iv", 3 / 60)], weight=70.0)
def test_random_regimens_match_solve_ivp(doses: list[tuple[float, float, str, float]], weight: float) -> None:
    """Random racemic regimens, solved exactly and by solve_ivp on ketasim's own rate matrix."""
    from ketasim.pk._structures import STRUCTURES, compartments_of, rate_matrix

    spec = load_pk_file("clements_1981")
    cov = Covariates.one(weight_kg=weight)
    p = individual_parameters(spec, cov)
    ka = {r: np.array([v]) for r, v in absorption_rates("clements_1981").items()}
    flows = STRUCTURES[spec.structure](p, ka)
    cmts = compartments_of(flows)
    m = rate_matrix(flows, cmts, 1)[0]
    records = [Dose(time_h=t, amount_mg=a, route=r, duration_h=d if r == "iv" else None) for t, a, r, d in doses]
    events = [
        (
            d.time_h,
            cmts.index("central" if d.route == "iv" else f"depot_{d.route}"),
            float(d.amount_mg or 0),
            float(d.duration_h or 0.0),
        )
        for d in records
    ]
    times = np.linspace(0, 40, 81)
    ref = reference_solution(lambda t, x: m @ x, len(cmts), events, times)
    res = load_model("clements_1981").simulate(records, times, cov, check=False)
    i = cmts.index("central")
    assert _max_rel_err(res.amounts_mg[0, :, i], ref[:, i]) < 1e-6


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 12),
    edges=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=30),
    sources=st.lists(st.integers(0, 11), min_size=1, max_size=3),
)
def test_reachable_states_are_scipys_breadth_first_search(
    n: int, edges: list[tuple[int, int]], sources: list[int]
) -> None:
    """Oracle: scipy.sparse.csgraph's breadth-first order from each source, on the graph
    j → i for every rate [i, j] ≠ 0."""
    m = np.zeros((2, n, n))
    for i, j in edges:
        m[i % 2, i % n, j % n] = 1.0  # a flow in one patient's matrix is enough
    src = np.array([s % n for s in sources], dtype=np.intp)
    graph = csr_matrix(np.any(m != 0.0, axis=0).T.astype(float))
    expected = set()
    for s in src:
        expected |= set(breadth_first_order(graph, int(s), directed=True, return_predecessors=False).tolist())
    assert reachable(m, src).tolist() == sorted(expected)


ROUTES = [
    (name, route) for name in ("clements_1981", "domino_1982", "perez_ruixo_2021") for route in load_model(name).routes
]


@pytest.mark.parametrize(("model_name", "route"), ROUTES)
def test_solving_on_the_reachable_states_is_the_full_solution(model_name: str, route: str) -> None:
    """Every route of every model: the public solver (restricted to the states the doses
    reach) against the superposition on the full system, every compartment and effect site."""
    model = load_model(model_name)
    duration = 40.0 / 60.0 if route == "iv" else None
    doses = [Dose(time_h=t, amount_mg=56.0, route=route, duration_h=duration) for t in (0.0, 30.0)]
    cov = Covariates(weight_kg=np.array([55.0, 90.0]), age_years=np.array([30.0, 70.0]), female=np.array([True, False]))
    system = model.linear_system(cov)
    inputs = model.dose_inputs(doses, system)
    full = solve_inputs(
        decompose(system.rate_matrix_per_h),
        TIMES_H,
        inputs.compartment,
        inputs.start_h,
        inputs.duration_h,
        inputs.amount_mg,
    )
    got = model.simulate(doses, TIMES_H, cov, check=False)
    assert np.max(np.abs(got.amounts_mg - full[:, :, : system.n_mass])) <= 1e-9 * np.max(np.abs(full))
    for a in model.spec.analytes:
        ce = full[:, :, system.states.index(f"effect_{a.name}")] * 1000.0
        assert np.max(np.abs(got.effect_site_ng_ml[a.name] - ce)) <= 1e-9 * max(np.max(np.abs(ce)), 1e-12)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_memory_is_kept_for_reuse_on_glibc_without_changing_a_result() -> None:
    """The allocator setting takes (glibc accepts both thresholds) and is made once per
    process; a population's PK is bit-for-bit the same before and after it (in a child
    process, so the first run sees glibc's defaults)."""
    code = (
        "import numpy as np\n"
        "from ketasim._memory import keep_freed_memory\n"
        "from ketasim.covariates import Covariates\n"
        "from ketasim.pk import load_model\n"
        "from ketasim.regimens import Dose\n"
        "m = load_model('racemic_ketamine')\n"
        "n = 300\n"
        "cov = Covariates(weight_kg=np.linspace(50, 110, n), age_years=np.full(n, 40.0), female=np.zeros(n, bool))\n"
        "run = lambda: m.simulate([Dose(amount_mg_per_kg=0.5, duration_h=2 / 3)], np.linspace(0, 24, 2000), cov)\n"
        "before = run().concentrations_ng_ml['ketamine']\n"
        "assert keep_freed_memory() and keep_freed_memory.cache_info().misses == 1 and keep_freed_memory()\n"
        "assert np.array_equal(before, run().concentrations_ng_ml['ketamine'])\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@settings(max_examples=25, deadline=None)
@given(
    inputs=st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from([0, 1, 2, 4, 6]), st.floats(1.0, 100.0), st.integers(0, 3)),
        min_size=1,
        max_size=6,
    ),
    shift=st.integers(0, 3),
)
def test_march_on_a_grid_holding_the_inputs_is_the_superposition(
    inputs: list[tuple[int, int, float, int]], shift: int
) -> None:
    """Oracle: ``solve_inputs`` (superposition) on the same system.  Boluses and infusions
    (starting and ending on nodes, overlapping, several at one node, into any compartment),
    the second patient's schedule shifted by ``shift`` nodes."""
    model = load_model("clements_1981")
    cov = Covariates(weight_kg=np.array([60.0, 85.0]), age_years=np.array([30.0, 70.0]), female=np.array([True, False]))
    system = model.linear_system(cov)
    eig = decompose(system.rate_matrix_per_h)
    grid = np.unique(np.concatenate([np.linspace(0.0, 5.0, 41), np.linspace(5.0, 48.0, 44)]))
    cmt = np.array([c % system.n_mass for *_, c in inputs], dtype=np.intp)
    start = np.array([[grid[k] for k, *_ in inputs], [grid[k + shift] for k, *_ in inputs]])
    end = np.array([[grid[k + d] for k, d, *_ in inputs], [grid[k + shift + d] for k, d, *_ in inputs]])
    amount = np.array([a for _, _, a, _ in inputs])
    observe = np.arange(len(system.states))
    assert grid_holds_inputs(grid, start, end - start)
    marched = march_inputs(eig, grid, cmt, start, end - start, amount, observe)
    expected = np.moveaxis(solve_inputs(eig, grid, cmt, start, end - start, amount, observe), 2, 0)
    assert np.max(np.abs(marched - expected)) <= 1e-9 * np.max(np.abs(expected))


@given(z=st.floats(-700.0, 700.0) | st.sampled_from([0.0, 5e-324, -1e-300, 1e-17, -1e-9]))
def test_phi1_against_sixty_digit_arithmetic(z: float) -> None:
    """φ₁(z) = (e^z − 1)/z, the modal march's input gain, to a few ulp for every step the
    solver can meet, checked against decimal arithmetic at 60 digits (1 + z/2 where z is so
    small that 60 digits cannot see e^z − 1)."""
    with localcontext() as ctx:
        ctx.prec = 60
        d = Decimal(z)
        exact = 1.0 if z == 0.0 else float(1 + d / 2 if abs(z) < 1e-30 else (d.exp() - 1) / d)
    assert float(_phi1(np.array([z]))[0]) == pytest.approx(exact, rel=1e-14)
