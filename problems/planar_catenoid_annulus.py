"""Catenoid over an annulus: the minimal graph between two coaxial circles (2-D, exact).

The upper half of a catenoid of neck radius c is the graph u = c arccosh(r / c), r = |x|, over
the annulus R1 <= r <= R2 (R1 > c); it minimises the area A[u] = ∫∫ sqrt(1 + |∇u|²) dx dy among
graphs with its own boundary values.  Here c = 0.8, R1 = 1, R2 = 2: the slope at the inner
circle is c / sqrt(R1² - c²) = 4/3.  Exact area: since 1 + u_r² = r² / (r² - c²),
A = 2π ∫ r² / sqrt(r² - c²) dr = π [r sqrt(r² - c²) + c² arccosh(r / c)] from R1 to R2.

The domain is a polygon with a polygonal hole (both circles inscribed with about one vertex per
mesh spacing, see :func:`domain_for`): the boundary nodes lie on the circles, and u is a minimal
graph on the polygonal domain too, so the nodal error converges at the element's order; the
area differs from the annulus's by O(h²) (the polygon misses circular segments).
"""

import jax.numpy as jnp
import numpy as np

import varcalc as vc

c, R1, R2 = 0.8, 1.0, 2.0


def integrand(u, du, x):
    """Area element of the graph."""
    return jnp.sqrt(1.0 + du @ du)


def exact(points):
    """c arccosh(r / c) at points (n, 2) -> (n,)."""
    p = np.asarray(points, dtype=np.float64)
    return c * np.arccosh(np.hypot(p[:, 0], p[:, 1]) / c)


def _F(r):
    return r * np.sqrt(r * r - c * c) + c * c * np.arccosh(r / c)


exact_area = np.pi * (_F(R2) - _F(R1))


def circle(radius, k):
    t = 2 * np.pi * np.arange(k) / k
    return radius * np.column_stack([np.cos(t), np.sin(t)])


def domain_for(n):
    """The annulus as a polygon with a hole, ring vertices spaced like a mesh with ``n`` nodes
    across (spacing h = 2 R2 / (n - 1))."""
    h = 2 * R2 / (n - 1)
    return vc.Polygon(
        circle(R2, int(np.ceil(2 * np.pi * R2 / h))), holes=[circle(R1, int(np.ceil(2 * np.pi * R1 / h)))]
    )


def problem_for(n):
    return vc.PlanarProblem(
        integrand, domain_for(n), bc=exact, exact=exact, exact_value=exact_area, name="planar_catenoid_annulus"
    )


n = 41
element = "P1"
domain = domain_for(n)
problem = problem_for(n)
solve_options = {}
plot_options = {}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
