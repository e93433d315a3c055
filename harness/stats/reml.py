"""Dense REML fit of the run-level variance components: the cross-check of the ANOVA estimator.

Model of the per-(method, seed, language) means ``y`` (``n = M S L`` values)::

    y = mu 1 + Z_method u_method + Z_language u_language + Z_ml u_ml + Z_seed u_seed + e

with independent ``u_k ~ N(0, theta_k I)`` and ``e ~ N(0, theta_e I)`` (``e`` is the
seed x language interaction; ``language`` includes the tier).  Covariance
``V(theta) = sum_k theta_k Z_k Z_k' + theta_e I``.  The REML criterion (Patterson &
Thompson 1971), minimised over ``theta >= 0``::

    -2 l_R(theta) = log det V + log det(X' V^-1 X) + y' P y + const,
    P = V^-1 - V^-1 X (X' V^-1 X)^-1 X' V^-1,   X = 1,

    d(-2 l_R) / d theta_k = tr(P Z_k Z_k') - y' P Z_k Z_k' P y.

The minimisation is L-BFGS-B with this analytic gradient, on ``theta / var(y)``, started
from the ANOVA solution (clipped at 0) and from an equal split of ``var(y)``; the better
optimum is kept.  ``converged`` requires the Karush-Kuhn-Tucker conditions at the
solution: relative gradient below :data:`KKT_TOL` for positive components and not negative
for those at 0.  For balanced data with positive ANOVA estimates the two estimators agree
(REML equals the moment solution in the interior), which is what the check verifies.

Why not statsmodels' ``MixedLM``: on nDCG@10 of the default run (6 methods x 3 seeds x 6
languages, 2026-12-02) its crossed-effects fit stops at ``-2 l_R = -761.71`` against the
optimum's ``-814.72`` (seed variance 9.9e-4 against 8.0e-6), with warnings (failed
convergence, retry, non-positive-definite Hessian); the dense fit reaches the ANOVA
solution (relative difference 1e-7) from the ANOVA start and the criterion's optimum from an
equal split (``perf/bench_reml.py RUN_DIR``).  ``converged`` is the KKT check at the
best solution, not the optimiser's flag (L-BFGS-B may stop "abnormally" at the optimum).  Cost: one ``n x n`` Cholesky per evaluation
(``n = 108`` for the default run, 540 for 6 methods x 5 seeds x 18 languages).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg as sla
from scipy import optimize as sopt

#: Relative gradient tolerance of the KKT check (``gradient x theta scale / |criterion scale|``).
KKT_TOL = 1e-4
#: Components of the run-level model, in order.
COMPONENTS = ("method", "language", "method_x_language", "seed", "seed_x_language")


@dataclass(frozen=True)
class RemlCheck:
    """REML fit on the run-level means, next to the ANOVA estimates of the same quantities.

    ``reml`` and ``anova``: ``{method, language (tier included), method_x_language, seed,
    seed_x_language}`` variances of the run-level means (query noise not subtracted; ``seed``
    and ``seed_x_language`` absent with one seed).  ``criterion``: ``-2 l_R`` at the REML
    solution (constant omitted) and ``criterion_at_anova``: at the ANOVA solution clipped at
    0; ``max_relative_difference``: ``max_k |reml_k - anova_k| / max(reml_k, anova_k)`` over
    components with a positive estimate.
    """

    estimator: str
    converged: bool
    reml: Mapping[str, float]
    anova: Mapping[str, float]
    criterion: float
    criterion_at_anova: float
    max_relative_difference: float
    messages: tuple[str, ...]
    error: str | None = None


def design_matrices(n_methods: int, n_seeds: int, n_languages: int) -> dict[str, np.ndarray]:
    """Incidence matrices ``Z_k`` ``(n, levels_k)`` of the run-level model, rows in ``(m, s, l)`` C order."""
    mi, si, li = (
        a.ravel() for a in np.meshgrid(np.arange(n_methods), np.arange(n_seeds), np.arange(n_languages), indexing="ij")
    )
    codes = {"method": mi, "language": li, "method_x_language": mi * n_languages + li, "seed": mi * n_seeds + si}
    levels = {
        "method": n_methods,
        "language": n_languages,
        "method_x_language": n_methods * n_languages,
        "seed": n_methods * n_seeds,
    }
    out = {}
    for k, code in codes.items():
        z = np.zeros((code.size, levels[k]))
        z[np.arange(code.size), code] = 1.0
        out[k] = z
    if n_seeds < 2:  # one seed: the residual is the method x language interaction
        del out["seed"], out["method_x_language"]
    return out


class RemlCriterion:
    """``-2 l_R`` and its gradient for ``y`` with the covariance blocks ``G_k = Z_k Z_k'`` (and I)."""

    def __init__(self, y: np.ndarray, z: Mapping[str, np.ndarray]) -> None:
        self.y = np.asarray(y, dtype=np.float64).ravel()
        self.names = (*z, "seed_x_language" if "seed" in z else "method_x_language")
        n = self.y.size
        self.blocks = [zk @ zk.T for zk in z.values()] + [np.eye(n)]  # (n, n) each

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        v = sum((t * g for t, g in zip(theta, self.blocks, strict=True)), np.zeros_like(self.blocks[0]))
        c = sla.cho_factor(v, lower=True)
        one = np.ones_like(self.y)
        vi_one = sla.cho_solve(c, one)
        vi_y = sla.cho_solve(c, self.y)
        s = float(one @ vi_one)
        py = vi_y - vi_one * (one @ vi_y) / s  # P y, (n,)
        logdet = 2.0 * float(np.log(np.diag(c[0])).sum())
        value = logdet + np.log(s) + float(self.y @ py)
        vi = sla.cho_solve(c, np.eye(self.y.size))
        p = vi - np.outer(vi_one, vi_one) / s  # (n, n)
        grad = np.array([float((p * g).sum() - py @ g @ py) for g in self.blocks])
        return value, grad


def _anova_start(anova: Mapping[str, float], names: Sequence[str]) -> np.ndarray:
    return np.array([max(float(anova.get(k, 0.0)), 0.0) for k in names])


def reml_fit(y: np.ndarray, anova: Mapping[str, float]) -> RemlCheck:
    """Fit the model of the module docstring to ``y`` ``(M, S, L)`` and compare with ``anova``."""
    n_m, n_s, n_l = y.shape
    crit = RemlCriterion(y, design_matrices(n_m, n_s, n_l))
    names = crit.names
    scale = float(np.var(y)) or 1.0
    anova_theta = _anova_start(anova, names)
    if anova_theta[-1] <= 0:  # the residual must stay positive for V to be positive definite
        anova_theta[-1] = 1e-6 * scale
    starts = [anova_theta / scale, np.full(len(names), 1.0 / len(names))]
    bounds = [(0.0, None)] * (len(names) - 1) + [(1e-10, None)]
    messages: list[str] = []
    best = None
    for x0 in starts:
        res = sopt.minimize(
            lambda x: _scaled(crit, x, scale),
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10},
        )
        if best is None or res.fun < best.fun:
            best = res
        messages.append(f"start {[float(f'{v:.3g}') for v in x0]} (x var(y)): {res.message}, criterion {res.fun:.4f}")
    assert best is not None  # at least one start ran
    theta = best.x * scale
    value, grad = crit(theta)
    at_anova, _ = crit(np.maximum(anova_theta, [0.0] * (len(names) - 1) + [1e-10 * scale]))
    g = grad * scale  # gradient in the optimiser's units
    positive = best.x > 1e-8
    kkt = bool(
        np.all(np.abs(g[positive]) < KKT_TOL * max(1.0, abs(value)))
        and np.all(g[~positive] > -KKT_TOL * max(1.0, abs(value)))
    )
    reml = {k: _round(v) for k, v in zip(names, theta, strict=True)}
    common = [k for k in names if k in anova and max(reml[k], anova[k]) > 0]
    rel = max((abs(reml[k] - anova[k]) / max(reml[k], anova[k]) for k in common), default=0.0)
    return RemlCheck(
        "dense REML on run-level means (scipy L-BFGS-B, analytic gradient)",
        kkt,
        reml,
        {k: float(v) for k, v in anova.items()},
        _round(value),
        _round(at_anova),
        _round(rel),
        tuple(messages),
    )


def _round(x: float) -> float:
    """8 significant digits: the optimiser's last digits depend on BLAS threads (Cholesky), analysis.json must not."""
    return float(f"{float(x):.8g}")


def _scaled(crit: RemlCriterion, x: np.ndarray, scale: float) -> tuple[float, np.ndarray]:
    value, grad = crit(x * scale)
    return value, grad * scale
