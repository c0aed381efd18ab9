"""Small-Gain Nash certificate of the two-player toy game: phase portrait, band, distances.

The toy game ``J = [[mu, l12], [l21, mu]]`` is not Euclidean-monotone for the default
couplings, yet SGN certifies it. The scenario certifies it, runs certified projected Euler
gradient play from several starts, and compares the distance to equilibrium measured in
the Euclidean norm (which can grow) with the certified metric (which shrinks at least by
the certified factor every step). A second game, outside the band (``l21_outside``), is
refused by the certificate and its gradient play is shown diverging or stalling.

Examples
--------
>>> from scenarios.config import validate_params
>>> from scenarios.kinds import sgn
>>> params = validate_params({"iterations": 20, "n_starts": 2}, sgn.PARAMS, where="demo")
>>> out = sgn.run(params, seed=0)
>>> out.summary["certificate"]["certified"], out.summary["outside"]["certified"]
(True, False)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from games.diffgame import Box, toy_game
from games.sgn import certify, projected_euler, sgn_margin
from scenarios.config import Outcome, Param, ScenarioError

__all__ = ["DESCRIPTION", "METRICS", "PARAMS", "run", "write_artifacts"]

DESCRIPTION = "SGN certificate of the toy game: phase portrait, timescale band, distances."

_POS = {"low": 0.0, "low_open": True, "high": 1e6}
_GAIN = {"low": 1e-6, "high": 1e6}  # couplings: nonzero (the weights are their ratio)

PARAMS: dict[str, Param] = {
    "mu": Param(1.0, float, "own curvature of both players", **_GAIN),
    "l12": Param(10.0, float, "coupling dF_1/dx_2", **_GAIN),
    "l21": Param(0.05, float, "coupling dF_2/dx_1", **_GAIN),
    "l21_outside": Param(
        0.2, float, "l21 of the comparison game outside the band (mu^2 <= l12 l21)", **_GAIN
    ),
    "step": Param(
        0.0, float, "Euler step (0: the certificate's best step margin/beta^2)", low=0.0, high=1e6
    ),
    "iterations": Param(150, int, "gradient-play iterations", low=1, high=1_000_000),
    "n_starts": Param(4, int, "random starting points (uniform in the box)", low=1, high=100),
    "radius": Param(2.0, float, "half-width of the box of starts and of the portrait", **_POS),
}


#: Dotted paths of the summary (sweeps check their ``metrics`` against these).
METRICS = (
    *(
        f"certificate.{m}"
        for m in ("certified", "margin", "beta", "euler_step", "rk4_step", "euclidean_margin")
    ),
    *(
        f"closed_form.{m}"
        for m in ("weights_ratio", "margin", "beta", "band_product", "euler_step")
    ),
    "step",
    "certified_factor",
    "measured_worst_factor_metric",
    "measured_worst_factor_euclidean",
    *(
        f"outside.{m}"
        for m in ("l21", "certified", "min_real_eigenvalue", "final_distance", "initial_distance")
    ),
)


def _distances(traj: np.ndarray, xstar: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, ...]:
    d = traj - xstar
    return np.sqrt(np.sum(d * d, axis=1)), np.sqrt(np.sum(w * d * d, axis=1))


def run(params: dict, *, seed: int, progress: bool = False) -> Outcome:
    """Certify the toy game and the game outside the band; run gradient play on both.

    Parameters
    ----------
    params : dict
        Checked parameters (see ``PARAMS``).
    seed : int
        Seed of the starting points.
    progress : bool
        Unused (the run takes well under a second).

    Returns
    -------
    Outcome
        Summary (certificate numbers, closed forms, measured factors), tables and the data
        for the plots.
    """
    try:
        return _solve(params, seed)
    except (ValueError, OverflowError, FloatingPointError, ZeroDivisionError) as exc:
        raise ScenarioError(
            f"params: mu = {params['mu']}, l12 = {params['l12']}, l21 = "
            f"{params['l21']}, l21_outside = {params['l21_outside']}, radius = "
            f"{params['radius']}: the numbers leave floating point ({exc}); "
            f"choose less extreme values"
        ) from None


def _solve(params: dict, seed: int) -> Outcome:
    """Do what :func:`run` says (its numbers may overflow for extreme parameters)."""
    p = params
    rng = np.random.default_rng(seed)
    game = toy_game(p["mu"], p["l12"], p["l21"])
    cert = certify(game)
    if not cert.certified:
        raise ScenarioError(
            f"params: the toy game with mu={p['mu']}, l12={p['l12']}, "
            f"l21={p['l21']} is not certified ({cert.reason}); choose "
            f"mu^2 > l12 l21"
        )
    step = p["step"] or cert.best_euler_step
    if step >= cert.euler_step:
        raise ScenarioError(
            f"params.step = {step} is not below the certified Euler bound {cert.euler_step:.6g}"
        )
    xstar = game.equilibrium()
    R = p["radius"]
    starts = Box(-R, R).sample(rng, 2, p["n_starts"])
    starts[0] = [0.0, R]  # the direction in which the Euclidean distance grows first
    runs = []
    w = cert.metric
    q = cert.euler_rate(step)
    worst_w, worst_e = 0.0, 0.0
    for x0 in starts:
        r = _run(game, cert, step, x0, p["iterations"])
        de, dw = _distances(r, xstar, w)
        ok = dw[:-1] > 1e-12 * dw[0]
        worst_w = max(worst_w, float(np.max(dw[1:][ok] / dw[:-1][ok])))
        worst_e = max(worst_e, float(np.max(de[1:][ok] / de[:-1][ok])))
        runs.append({"x0": x0, "traj": r, "euclid": de, "metric": dw})

    outside = toy_game(p["mu"], p["l12"], p["l21_outside"])
    cert_out = certify(outside)
    out_traj = _run(outside, cert, step, starts[0], p["iterations"])
    try:
        out_star = outside.equilibrium()
        out_dist = np.linalg.norm(out_traj - out_star, axis=1)
    except ValueError:  # singular: a line of equilibria, report the residual instead
        out_dist = np.linalg.norm(out_traj @ outside.J.T + outside.b, axis=1)
    spectral_abscissa = float(np.min(np.linalg.eigvals(outside.J).real))

    mu, l12, l21 = p["mu"], p["l12"], p["l21"]
    closed = {
        "weights_ratio": l12 / l21 if l21 > 0 else float("inf"),
        "margin": mu - np.sqrt(l12 * l21),
        "beta": mu + np.sqrt(l12 * l21),
        "band_product": (l12 / l21) ** 2 if l21 > 0 else float("inf"),
    }
    closed["euler_step"] = 2 * closed["margin"] / closed["beta"] ** 2
    summary = {
        "certificate": {
            "certified": cert.certified,
            "weights": cert.weights,
            "margin": cert.margin,
            "beta": cert.beta,
            "euler_step": cert.euler_step,
            "rk4_step": cert.rk4_step,
            "band": list(cert.band),
            "euclidean_margin": cert.euclidean_margin,
            "reason": cert.reason,
        },
        "closed_form": closed,
        "step": step,
        "certified_factor": q,
        "measured_worst_factor_metric": worst_w,
        "measured_worst_factor_euclidean": worst_e,
        "outside": {
            "l21": p["l21_outside"],
            "certified": cert_out.certified,
            "reason": cert_out.reason,
            "min_real_eigenvalue": spectral_abscissa,
            "final_distance": float(out_dist[-1]),
            "initial_distance": float(out_dist[0]),
        },
    }
    rows = [
        ["certified", cert.certified, "mu^2 > l12 l21"],
        ["euclidean margin lambda_min(sym J)", cert.euclidean_margin, mu - (l12 + l21) / 2],
        ["weights w2/w1", float(cert.weights[1] / cert.weights[0]), closed["weights_ratio"]],
        ["margin alpha", cert.margin, closed["margin"]],
        ["beta", cert.beta, closed["beta"]],
        ["Euler step bound 2 alpha/beta^2", cert.euler_step, closed["euler_step"]],
        ["RK4 step bound", cert.rk4_step, None],
        ["band low", cert.band[0], ((mu - np.sqrt(mu * mu - l12 * l21)) / l21) ** 2],
        ["band high", cert.band[1], ((mu + np.sqrt(mu * mu - l12 * l21)) / l21) ** 2],
        ["band low * high", cert.band[0] * cert.band[1], closed["band_product"]],
        ["step used", step, None],
        ["certified factor per step", q, None],
        ["worst measured factor (metric)", worst_w, None],
        ["worst measured factor (Euclidean)", worst_e, None],
    ]
    out_rows = [
        ["l21", p["l21_outside"]],
        ["certified", cert_out.certified],
        ["min real eigenvalue of J", spectral_abscissa],
        ["distance at start", float(out_dist[0])],
        [f"distance after {p['iterations']} steps", float(out_dist[-1])],
    ]
    tables = [
        (
            "SGN certificate of the toy game (value, closed form)",
            ["quantity", "value", "closed form"],
            rows,
        ),
        ("Game outside the band: " + cert_out.reason, ["quantity", "value"], out_rows),
    ]
    data = {
        "game": game,
        "cert": cert,
        "runs": runs,
        "xstar": xstar,
        "step": step,
        "q": q,
        "radius": R,
        "outside_dist": out_dist,
        "outside_l21": p["l21_outside"],
        "mu": mu,
        "l12": l12,
        "l21": l21,
    }
    return Outcome(summary=summary, tables=tables, data=data)


def _run(game, cert, step, x0, iterations) -> np.ndarray:
    import warnings

    from protocols.checks import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        r = projected_euler(
            game, cert, step=step, x0=x0, tol=0.0, max_iter=iterations, trajectory=True
        )
    traj = r.trajectory
    if traj.shape[0] < iterations + 1:  # stopped early (exactly at x* or non-finite)
        traj = np.vstack([traj, np.repeat(traj[-1:], iterations + 1 - traj.shape[0], axis=0)])
    return traj


def write_artifacts(outcome: Outcome, out_dir: Path) -> list[Path]:
    """Write ``phase_portrait.png``, ``band.png`` and ``distance.png``.

    Parameters
    ----------
    outcome : Outcome
        From :func:`run`.
    out_dir : Path
        Output folder.

    Returns
    -------
    list of Path
        The written files.
    """
    from matplotlib.figure import Figure

    d = outcome.data
    out_dir.mkdir(parents=True, exist_ok=True)
    game, cert, xstar, R = d["game"], d["cert"], d["xstar"], d["radius"]
    paths = []

    # phase portrait, in the original coordinates and in the certified ones
    fig = Figure(figsize=(11, 5), layout="constrained")
    ax, axw = fig.subplots(1, 2)
    g = np.linspace(-R, R, 41)
    X, Y = np.meshgrid(g + xstar[0], g + xstar[1])
    U = -(game.J[0, 0] * X + game.J[0, 1] * Y + game.b[0])
    V = -(game.J[1, 0] * X + game.J[1, 1] * Y + game.b[1])
    ax.streamplot(X, Y, U, V, density=1.1, color="0.7", linewidth=0.7)
    t = np.linspace(0, 2 * np.pi, 200)
    r_e = d["runs"][0]["euclid"][0]
    r_w = d["runs"][0]["metric"][0]
    sw = np.sqrt(cert.weights)
    ax.plot(
        xstar[0] + r_e * np.cos(t),
        xstar[1] + r_e * np.sin(t),
        "--",
        color="tab:orange",
        label="Euclidean sphere through start 1",
    )
    axw.plot(
        r_w * np.cos(t),
        r_w * np.sin(t),
        "-",
        color="tab:green",
        label="certified sphere through start 1",
    )
    for k, run in enumerate(d["runs"]):
        tr = run["traj"]
        y = (tr - xstar) * sw
        for a, pts in ((ax, tr), (axw, y)):
            a.plot(
                pts[:, 0],
                pts[:, 1],
                "-",
                lw=1.2,
                color=f"C{k % 10}",
                label="certified Euler" if k == 0 else None,
            )
            a.plot(*pts[0], "o", ms=4, color="k")
    ax.plot(*xstar, "*", ms=14, color="tab:red", label="equilibrium")
    axw.plot(0, 0, "*", ms=14, color="tab:red")
    ax.set_xlim(xstar[0] - R, xstar[0] + R)
    ax.set_ylim(xstar[1] - R, xstar[1] + R)
    ax.set_xlabel("x_1")
    ax.set_ylabel("x_2")
    ax.set_title(f"mu={d['mu']}, l12={d['l12']}, l21={d['l21']}: flow -F(x)")
    ax.legend(loc="lower left", fontsize=7)
    axw.set_aspect("equal")
    axw.set_xlabel("sqrt(w_1) (x_1 - x*_1)")
    axw.set_ylabel("sqrt(w_2) (x_2 - x*_2)")
    axw.set_title("certified coordinates: distances shrink every step")
    axw.legend(loc="lower left", fontsize=7)
    paths.append(out_dir / "phase_portrait.png")
    fig.savefig(paths[-1], dpi=110)

    # band
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    lo, hi = cert.band
    ratios = np.logspace(np.log10(lo) - 1, np.log10(hi) + 1, 400)
    margins = [sgn_margin(cert.mu, cert.coupling, [1.0, r]) for r in ratios]
    ax.semilogx(ratios, margins, color="tab:blue", label="SGN margin alpha(1, r)")
    ax.axhline(0, color="k", lw=0.8)
    ax.axvspan(lo, hi, color="tab:green", alpha=0.15, label=f"band ({lo:.2f}, {hi:.2f})")
    ax.axvline(
        cert.weights[1] / cert.weights[0],
        color="tab:red",
        ls="--",
        label=f"optimal r = {cert.weights[1] / cert.weights[0]:.4g}",
    )
    ax.set_ylim(min(-1.0, cert.margin - 1), cert.margin + 0.2)
    ax.set_xlabel("weight ratio r = w2 / w1")
    ax.set_ylabel("margin")
    ax.set_title("certified timescale band")
    ax.legend(fontsize=8)
    paths.append(out_dir / "band.png")
    fig.savefig(paths[-1], dpi=110)

    # distance to equilibrium
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax, ax2 = fig.subplots(1, 2)
    k = np.arange(d["runs"][0]["euclid"].shape[0])
    for j, run in enumerate(d["runs"]):
        ax.semilogy(
            k,
            run["euclid"] / run["euclid"][0],
            color="tab:orange",
            lw=1,
            label="Euclidean distance" if j == 0 else None,
        )
        ax.semilogy(
            k,
            run["metric"] / run["metric"][0],
            color="tab:green",
            lw=1,
            label="certified-metric distance" if j == 0 else None,
        )
    ax.semilogy(k, d["q"] ** k, "k--", lw=1, label=f"certified bound {d['q']:.4f}^k")
    ax.set_xlabel("iteration")
    ax.set_ylabel("distance / initial distance")
    ax.set_title(f"certified Euler, step {d['step']:.4g}")
    ax.legend(fontsize=8)
    od = d["outside_dist"]
    ax2.semilogy(np.arange(od.shape[0]), np.maximum(od, 1e-300), color="tab:red")
    ax2.set_xlabel("iteration")
    ax2.set_ylabel("Euclidean distance to equilibrium")
    ax2.set_title(f"outside the band (l21={d['outside_l21']}): not certified")
    paths.append(out_dir / "distance.png")
    fig.savefig(paths[-1], dpi=110)
    return paths
