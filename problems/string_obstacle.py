"""String over an obstacle: a taut string pushed up by a parabolic bump.

Minimise J[f] = ∫_{-1}^{1} ½ f'² dx with f(-1) = f(1) = 0 subject to f(x) >= ψ(x) (vc.Bound,
named "obstacle"), ψ(x) = c - k (x - s)² with c = 0.5, k = 1, s = 0.1: an off-centre bump poking
above the straight string.  The solution (the 1-D obstacle problem: f'' <= 0, f >= ψ, and
f'' = 0 where f > ψ) is the convex hull from above: straight segments from the ends tangent to the
parabola, and the parabola itself on the contact set [t_L, t_R].  Tangency from the end (e, 0):
ψ(t) + ψ'(t) (e - t) = 0, i.e. t = s + E - sign(E) sqrt(E² - c/k) with E = e - s; here
t_L ≈ -0.1574, t_R ≈ 0.4432.  f is C¹ but f'' jumps from 0 to -2k at t_L, t_R, and the contact
reaction (the multiplier density, -f'' on the contact set) is 2k = 2 there and 0 elsewhere.
J = ½ ψ'(t_L)² (t_L + 1) + ½ ψ'(t_R)² (1 - t_R) + (2k²/3) [(t_R - s)³ - (t_L - s)³].  The
bound is imposed at the nodes; the straight-line default guess f = 0 violates it (varcalc lifts
it).  `make_problem(c, k, s)` builds other bumps.
"""

import numpy as np

import varcalc as vc

C, K, S = 0.5, 1.0, 0.1  # bump height, curvature/2, centre: ψ(x) = C - K (x - S)²
ENDS = (-1.0, 1.0)


def integrand(f, df, x):
    """Elastic energy of the (linearised) string at unit tension."""
    return 0.5 * df**2


def tangent_points(c=C, k=K, s=S, ends=ENDS):
    """Abscissae (t_L, t_R) where the segments from (e, 0) touch ψ = c - k (x - s)²."""
    out = []
    for e in ends:
        E = e - s
        if not (c > 0 and k > 0 and E * E > c / k):
            raise ValueError(f"tangent_points: the end {e} must lie outside the bump (ψ(e) < 0)")
        out.append(s + E - np.sign(E) * np.sqrt(E * E - c / k))
    return float(out[0]), float(out[1])


def obstacle(x, c=C, k=K, s=S):
    """ψ(x) = c - k (x - s)² (numpy, vectorised; the catalog's bump by default)."""
    return c - k * (np.asarray(x, dtype=np.float64) - s) ** 2


def make_problem(c=C, k=K, s=S, name="string_obstacle"):
    """The string over ψ = c - k (x - s)² on [-1, 1]: (problem, (t_L, t_R))."""
    (a, b) = ENDS
    tL, tR = tangent_points(c, k, s)
    mL, mR = -2 * k * (tL - s), -2 * k * (tR - s)  # slopes of the straight segments

    def exact(x):
        """Straight tangent segments outside [t_L, t_R], the obstacle inside (vectorised)."""
        x = np.asarray(x, dtype=np.float64)
        return np.where(x < tL, mL * (x - a), np.where(x > tR, mR * (x - b), obstacle(x, c, k, s)))

    value = 0.5 * mL**2 * (tL - a) + 0.5 * mR**2 * (b - tR) + (2 * k * k / 3) * ((tR - s) ** 3 - (tL - s) ** 3)
    problem = vc.Problem(
        integrand,
        domain=ENDS,
        bc={"left": 0.0, "right": 0.0},
        constraints=[vc.Bound(lower=lambda x: obstacle(x, c, k, s), name="obstacle")],
        exact=exact,
        exact_value=float(value),
        name=name,
    )
    return problem, (tL, tR)


problem, (t_L, t_R) = make_problem()
exact = problem.exact
reaction = 2 * K  # exact contact reaction density -f'' on [t_L, t_R]
n = 81
grading = None
plot_options = {}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
