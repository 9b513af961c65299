"""``vc.solve(problem, tol=...)`` alone on an obstacle (issue 15's target, at a test's size): the
automatic degree-p path meets the tolerance on ``|J_h - J|`` (true error, against the exact value)
with fewer unknowns than P1 needs for the same error.  tol = 1e-6 here (2.5 s; 1e-8, 13 s, is in
``python benchmarks/bench_bounds.py --auto 1e-8``: 359 unknowns against ~23,500 for P1)."""

import warnings

import numpy as np
from varcalc.problems import string_obstacle as so

import varcalc as vc


def test_the_automatic_path_meets_tol_on_an_obstacle_with_fewer_unknowns_than_p1():
    p = so.problem
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missed tolerance warns: that is a failure here
        sol = vc.solve(p, tol=1e-6)
    assert sol.stats["tol_met"] and sol.degree > 1
    err = abs(sol.value - p.exact_value)
    assert err <= 1e-6 * abs(p.exact_value)  # the true error, not only the estimate
    assert np.min(sol.f - so.obstacle(sol.x)) >= -1e-12  # feasible at the nodes
    unknowns = [h for h in sol.stats["mesh_history"] if h["role"] == "base"][-1]["unknowns"]
    # P1's unknowns for the same error, from its measured order in J (2: the contact boundary).
    e = [abs(vc.solve(p, n=n).value - p.exact_value) for n in (101, 201)]
    order = np.log(e[0] / e[1]) / np.log(2)
    assert 1.7 < order < 2.3, order
    p1_nodes = 200 * (e[1] / err) ** (1 / order)
    assert unknowns < p1_nodes / 5, (unknowns, p1_nodes)
