"""Functionals on planar domains: minimise ``J[u] = ∫_Ω G(u, ∇u, x) dx`` over ``u: Ω ⊂ R² → R^m``.

Write the energy density ``G(u, grad_u, x)`` with ``jax.numpy``; varcalc discretizes it with
conforming P1 or P2 triangles, gets element Hessians by ``vmap(jax.hessian)``, assembles them
into a sparse matrix (pattern computed once per mesh) and minimises by globalised Newton with a
sparse direct (SuperLU) or AMG-preconditioned CG solve.

>>> import jax.numpy as jnp, numpy as np, varcalc as vc
>>> area = lambda u, du, x: jnp.sqrt(1 + du @ du)           # minimal surface
>>> p = vc.PlanarProblem(area, vc.Rectangle((0, 1), (0, 1)), bc=lambda x: x[:, 0] * x[:, 1])
>>> sol = vc.solve_planar(p, n=17)
>>> sol.converged
True
"""

from .adapt import solve_adaptive
from .domain import Annulus, Disk, Polygon, Rectangle, TriMesh
from .problem import PlanarProblem
from .solution import PlanarSolution
from .solve import solve_planar

__all__ = [
    "PlanarProblem",
    "solve_planar",
    "solve_adaptive",
    "PlanarSolution",
    "Rectangle",
    "Polygon",
    "Disk",
    "Annulus",
    "TriMesh",
]
