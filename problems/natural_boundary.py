"""Natural boundary condition: free right end, f'(1) = 0 from the minimisation.

Minimise J[f] = ∫_0^1 (½ f'² + ½ f² - f sin x) dx with f(0) = 1 and f(1) left free.  The
Euler–Lagrange equation is f'' = f - sin x, and the free end gives the natural condition
∂G/∂f' = f'(1) = 0.  The solution is f = ½ sin x + cosh x + C sinh x with
C = -(½ cos 1 + sinh 1) / cosh 1.  Integrating f'² by parts with the equation gives the
minimum J = -½ f(0) f'(0) - ½ ∫_0^1 f sin x dx, where f'(0) = ½ + C and
∫_0^1 f sin x dx = ¾ - sin(2)/8 + ½ (sin 1 sinh 1 - cos 1 cosh 1) + ½ C (sin 1 cosh 1 - cos 1 sinh 1)
(J ≈ 0.0167406681988686).  `bc` names only "left": varcalc leaves the right end free.
"""

import jax.numpy as jnp
import numpy as np

import varcalc as vc

C = -(0.5 * np.cos(1.0) + np.sinh(1.0)) / np.cosh(1.0)  # from f'(1) = 0


def integrand(f, df, x):
    return 0.5 * df**2 + 0.5 * f**2 - f * jnp.sin(x)


def exact(x):
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * np.sin(x) + np.cosh(x) + C * np.sinh(x)


_s1, _c1, _sh1, _ch1 = np.sin(1.0), np.cos(1.0), np.sinh(1.0), np.cosh(1.0)
_f_sin = 0.75 - np.sin(2.0) / 8 + 0.5 * (_s1 * _sh1 - _c1 * _ch1) + 0.5 * C * (_s1 * _ch1 - _c1 * _sh1)
exact_value = -0.5 * 1.0 * (0.5 + C) - 0.5 * _f_sin

problem = vc.Problem(
    integrand, domain=(0.0, 1.0), bc={"left": 1.0}, exact=exact, exact_value=exact_value, name="natural_boundary"
)
n = 161
grading = None
plot_options = {}

if __name__ == "__main__":
    from varcalc.cli import main

    main(["solve", __file__])
