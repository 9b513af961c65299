"""Elements and side conditions as objects (issue 14, item 4).

* The element registry (:mod:`varcalc.families`) gives the right family for each ``(order, degree)``
  and refuses the rest with the messages the solver always gave;
* each side condition (:mod:`varcalc.sides`) declares its unknowns, and the layout's sizes and
  offsets are the sums of what the element and the sides declare;
* refusals come from declared capabilities with the old messages;
* a toy side condition defined here — ``f(x0) = value`` at one node, one global multiplier — is
  registered, accepted by :class:`varcalc.Problem`, refused by the elements that do not declare it,
  and solves to the exact answer (piecewise-linear tent; a cubic beam under a point load) with the
  exact multiplier, without touching the library.
"""

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import pytest

import varcalc as vc
from varcalc.families import ELEMENTS, P1, Element, Hermite3, HermiteP, Lagrange, element_for, register_element
from varcalc.lagrangian import Layout
from varcalc.sides import SIDES, Side, register_side, sides_for, unregister_side
from varcalc.solve import discretize


# -- elements -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "order, degree, cls, rows", [(1, 1, P1, 1), (2, 1, Hermite3, 2), (1, 2, Lagrange, 2), (1, 5, Lagrange, 5)]
)
def test_registry_yields_the_element(order, degree, cls, rows):
    el = element_for(order, degree)
    assert type(el) is cls and el.degree == degree
    assert el.rows(1) == rows and el.rows(3) == 3 * rows


def test_registry_refuses_degree_2_for_order_2():
    with pytest.raises(ValueError, match="degree >= 3"):  # C¹ piecewise polynomials: degree 3 and up
        element_for(2, 2)
    el = element_for(2, 5)
    assert type(el) is HermiteP and el.rows(1) == 4 and el.rows(3) == 12  # f, f', 2 interior values


def test_layout_asks_the_element():
    G = lambda f, df, x: 0.5 * jnp.sum(df**2)
    p = vc.Problem(G, (0.0, 1.0), bc={"left": [0.0, 0.0], "right": [1.0, 1.0]})
    for degree in (1, 2, 4):
        lay = Layout(p, degree)
        assert lay.element.degree == lay.degree == degree
        assert lay.d_el == lay.d == 2 * degree and lay.k == 0
    beam = vc.Problem(lambda f, df, d2f, x: 0.5 * d2f**2, (0.0, 1.0), bc={"left": 0.0, "right": 0.0}, order=2)
    assert isinstance(Layout(beam).element, Hermite3) and Layout(beam).d_el == 2
    mapped = Layout(p, 3, (3, 1))
    assert mapped.element.mapped and mapped.end_powers == (3, 1)
    assert mapped.key(p) != Layout(p, 3).key(p) != Layout(p).key(p)


def test_a_registered_element_is_found_first():
    class P1Twin(P1):  # a "new family": same math, its own name
        name = "P1Twin"

    register_element(P1Twin)
    try:
        assert type(element_for(1, 1)) is P1Twin
        p = vc.Problem(lambda f, df, x: 0.5 * df**2 + f, (0.0, 1.0), bc={"left": 0.0, "right": 0.0})
        sol = vc.solve(p, n=11)
        assert sol.converged
        np.testing.assert_allclose(sol.f, 0.5 * sol.x * (sol.x - 1), atol=1e-12)
    finally:
        ELEMENTS.remove(P1Twin)
    assert type(element_for(1, 1)) is P1


# -- side conditions ------------------------------------------------------------------------------
def test_sides_declare_the_layout_sizes():
    H = lambda f, df, x: jnp.sum(f)
    p = vc.Problem(
        lambda f, df, x: 0.5 * jnp.sum(df**2),
        (0.0, 1.0),
        bc={"left": [1.0, 0.0]},
        constraints=[
            vc.Integral(H, 0.3, name="a"),
            vc.Pointwise(lambda f, x: jnp.sum(f**2) - 1.0),
            vc.Integral(H, 0.2, name="b"),
        ],
        right_end=vc.OnCurve(lambda x, f: x - 2.0),
    )
    lay = Layout(p)
    kinds = [s.kind for s in lay.sides]
    assert kinds == ["Integral", "Pointwise", "Integral", "OnCurve"]
    # rows: the element's m = 2, then the pointwise multiplier; z: the integrals, then the end.
    assert lay.d_el == 2 and lay.r == sum(s.rows for s in lay.sides) == 1 and lay.d == 3
    assert lay.k == sum(len(s.z) for s in lay.sides) == 4
    a, pw, b, end = lay.sides
    assert (a.z0, b.z0, end.z0) == (0, 1, 2) and pw.row0 == 2
    assert lay.k_int == 2 and lay.end_index("right") == 2
    np.testing.assert_array_equal(lay.multiplier_mask, [True, True, False, True])
    assert lay.n_multipliers_global == 3
    assert lay.pointwise_sizes == (1,) and lay.pointwise_shapes == ((),)


def test_each_public_class_has_a_side():
    assert {c.__name__ for c in SIDES} == {"Integral", "Pointwise", "Bound", "Data", "OnCurve"}
    p = vc.Problem(
        lambda f, df, x: 0.5 * df**2,
        (0.0, 1.0),
        bc={"left": 0.0, "right": 1.0},
        constraints=[vc.Bound(lower=0.0)],
        data=vc.Data([0.5], [0.3]),
    )
    assert [s.kind for s in sides_for(p)] == ["Bound", "Data"]
    lay = Layout(p)
    assert lay.has_bound and lay.has_data and lay.d == 1 and lay.k == 0


def test_new_values_keep_the_compile_key():
    G, H = (lambda f, df, x: jnp.sqrt(1 + df**2) * f), (lambda f, df, x: jnp.sqrt(1 + df**2))
    keys = {
        Layout(p).key(p)
        for p in (
            vc.Problem(G, (0.0, 1.0), bc={"left": 1.0, "right": 1.0}, constraints=[vc.Integral(H, c)])
            for c in (1.5, 2.0)
        )
    }
    assert len(keys) == 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(
                constraints=[vc.Bound(upper=2.0, derivative=1)],
                right_end=vc.OnCurve(lambda x, f: x - 1.0),
                bc={"left": 0.0},
            ),  # (Integral, Pointwise + Bound: solved now)
            "derivative=1 cannot be combined with a free end",
        ),
        (dict(constraints=[vc.Bound(lower=0.0), vc.Bound(upper=2.0)]), "give one Bound"),
        (
            dict(constraints=[vc.Bound(lower=0.0)], order=2),
            "Bound 'bound0' needs order=1",
        ),  # (vector unknowns: componentwise bounds)
        (dict(constraints=[vc.Pointwise(lambda f, x: f)], order=2), "Pointwise 'pointwise0' needs order=1"),
        (
            dict(data=vc.Data([0.5], [0.3]), right_end=vc.OnCurve(lambda x, f: x - 1.0), bc={"left": 0.0}),
            "right_end: cannot be combined with Data yet",
        ),
        (
            dict(right_end=vc.OnCurve(lambda x, f: x - 1.0), bc={"left": 0.0}, order=2),
            "right_end: a free end on a curve needs order=1",
        ),
    ],
)
def test_refusals_come_from_declared_capabilities(kwargs, match):
    order = kwargs.pop("order", 1)
    G = (lambda f, df, x: 0.5 * df**2) if order == 1 else (lambda f, df, d2f, x: 0.5 * d2f**2)
    kwargs.setdefault("bc", {"left": 0.0, "right": 1.0})
    with pytest.raises(ValueError, match=match):
        vc.Problem(G, (0.0, 1.0), order=order, **kwargs)


def test_element_refusals_keep_their_messages():
    p = vc.Problem(
        lambda f, df, x: 0.5 * df**2, (0.0, 1.0), bc={"left": 1.0, "right": 0.5}, constraints=[vc.Bound(lower=0.0)]
    )
    discretize(p, 5, degree=2)  # (value bounds at the GLL nodes: accepted since issue 16)
    with pytest.raises(ValueError, match="'stationary' cannot be combined with a Bound"):
        discretize(p, 5, mode="stationary")
    free = vc.Problem(lambda f, df, x: 0.5 * df**2, (0.0, 1.0), bc={"left": 1.0, "right": 0.5})
    with pytest.raises(ValueError, match="'midpoint' applies to degree=1"):
        discretize(free, 5, degree=2, quadrature="midpoint")
    with pytest.raises(ValueError, match="quadrature: expected one of"):
        discretize(free, 5, quadrature="nonsense")


# -- a toy side condition, registered from outside the library --------------------------------------
@dataclass(frozen=True, eq=False)
class PinAt:
    """``f(x) = value`` at one grid node ``x`` (the public half: what the user writes)."""

    x: float
    value: float
    name: str | None = None


class PinSide(Side):
    """The discrete half: one global multiplier λ, the term ``λ (f_i - value)`` at node ``i``."""

    kind = "PinAt"
    adds_unknowns = True
    point = True

    def prepare(self, problem):
        self.z = (True,)  # one multiplier in z

    def key(self):
        return (self.kind,)  # the node and the value are inputs, not structure

    def point_node(self, aux):
        return aux[f"pin{self.index}_node"]

    def at_point(self, v, z, aux):
        return z[self.z0] * (v[0] - aux[f"pin{self.index}_value"])

    def aux(self, disc, aux):
        aux[f"pin{self.index}_node"] = np.int64(np.argmin(np.abs(disc.x_user - self.con.x)))
        aux[f"pin{self.index}_value"] = np.float64(self.con.value)


@pytest.fixture
def pin():
    register_side(PinAt, PinSide)
    yield PinAt
    unregister_side(PinAt)


def _report(sol):
    disc, V, z = sol._state
    out = {}
    for side in disc.layout.sides:
        out.update(side.report(disc, V, z))
    return out


def test_toy_side_condition_solves_the_tent(pin):
    # min ∫ ½ f'² with f(0) = f(1) = 0 and f(1/2) = 1: the tent f = 1 - |2x - 1|, exact at the nodes
    # of P1; L = J + λ (f(1/2) - 1) gives λ = -(jump of f') = -4.
    p = vc.Problem(
        lambda f, df, x: 0.5 * df**2, (0.0, 1.0), bc={"left": 0.0, "right": 0.0}, constraints=[pin(0.5, 1.0)]
    )
    assert p.constraints[0].name == "pinat0"
    lay = Layout(p)
    assert lay.k == 1 and lay.n_multipliers_global == 1 and lay.d == 1
    sol = vc.solve(p, n=11)
    assert sol.converged, sol.message
    np.testing.assert_allclose(sol.f, 1 - np.abs(2 * sol.x - 1), atol=1e-12)
    assert abs(sol.value - 2.0) < 1e-12  # ∫ ½ · 4 dx
    assert _report(sol) == pytest.approx({"pinat0": -4.0}, abs=1e-10)
    assert sol.multipliers == pytest.approx({"pinat0": -4.0}, abs=1e-10)  # the Solution asks the side
    # a new value at the same node count reuses the structure (the value is an input)
    again = vc.solve(vc.Problem(p.integrand, p.domain, bc=p.bc, constraints=[pin(0.3, 0.6)]), n=11)
    np.testing.assert_allclose(again.f, np.where(again.x <= 0.3, 2 * again.x, 0.6 * (1 - again.x) / 0.7), atol=1e-12)


def test_toy_side_condition_on_hermite_beam(pin):
    # A simply supported beam, ∫ ½ f''² with f(0) = f(1) = 0, pushed to f(1/2) = 1: cubic pieces,
    # f = (3x - 4x³) at x <= 1/2 (symmetric), the point load P = 48 (EI δ = P L³ / 48): λ = -48.
    p = vc.Problem(
        lambda f, df, d2f, x: 0.5 * d2f**2,
        (0.0, 1.0),
        bc={"left": 0.0, "right": 0.0},
        order=2,
        constraints=[pin(0.5, 1.0)],
    )
    sol = vc.solve(p, n=9)
    assert sol.converged, sol.message
    xl = np.minimum(sol.x, 1 - sol.x)
    np.testing.assert_allclose(sol.f, 3 * xl - 4 * xl**3, atol=1e-11)
    assert _report(sol) == pytest.approx({"pinat0": -48.0}, rel=1e-9)


def test_toy_side_condition_is_refused_where_not_declared(pin):
    p = vc.Problem(
        lambda f, df, x: 0.5 * df**2, (0.0, 1.0), bc={"left": 0.0, "right": 0.0}, constraints=[pin(0.5, 1.0)]
    )
    with pytest.raises(ValueError, match=r"degree > 1 supports .* only, not \['PinAt'\]"):
        vc.solve(p, n=5, degree=2)
    with pytest.raises(ValueError, match="Bound cannot be combined with PinAt"):
        vc.Problem(p.integrand, p.domain, bc=p.bc, constraints=[pin(0.5, 1.0), vc.Bound(lower=0.0)])


def test_unregistered_constraint_is_refused():
    with pytest.raises(TypeError, match="expected vc.Integral, vc.Pointwise or vc.Bound"):
        vc.Problem(lambda f, df, x: df**2, (0.0, 1.0), constraints=[PinAt(0.5, 1.0)])


def test_element_base_declares_nothing_by_default():
    assert not Element.serves(1, 1) and Element.refusal(1, 1) is None


def test_side_reports_match_the_solution():
    # Each built-in side's report() gives the multipliers that Solution reports (built there per kind).
    G = lambda f, df, x: 0.5 * df**2
    problems = [
        vc.Problem(
            G,
            (0.0, 1.0),
            bc={"left": 0.0, "right": 0.0},
            constraints=[vc.Integral(lambda f, df, x: f, 0.1, name="area")],
        ),
        vc.Problem(
            lambda f, df, x: 0.5 * jnp.sum(df**2),
            (0.0, 1.0),
            bc={"left": [1.0, 0.0], "right": [0.0, 1.0]},
            constraints=[vc.Pointwise(lambda f, x: jnp.sum(f**2) - 1.0, name="circle")],
        ),
        vc.Problem(
            lambda f, df, x: 0.5 * df**2 + 0.5 * f**2,
            (0.0, 1.0),
            bc={"left": 1.0},
            right_end=vc.OnCurve(lambda x, f: x - 1.0 + 0.1 * f),
        ),
    ]
    guesses = [None, lambda x: np.stack([np.cos(np.pi * x / 2), np.sin(np.pi * x / 2)], axis=1), None]
    for p, guess in zip(problems, guesses):
        sol = vc.solve(p, n=17, guess=guess)
        assert sol.converged, sol.message
        report = _report(sol)
        assert set(report) == set(sol.multipliers)
        for name, value in report.items():
            np.testing.assert_allclose(value, sol.multipliers[name], rtol=0, atol=1e-14)
    # the area constraint's multiplier: f'' = λ, f = λ x (x - 1) / 2, ∫ f = -λ / 12 = 0.1: λ = -1.2 (O(h²))
    coarse, fine = (abs(_report(vc.solve(problems[0], n=n))["area"] + 1.2) for n in (17, 33))
    assert fine < 1e-2 and 3.5 < coarse / fine < 4.5
