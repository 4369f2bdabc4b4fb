"""Risk-adjusted Bernoulli CUSUM and the variable life-adjusted display (VLAD).

Sources:
- Steiner SH, Cook RJ, Farewell VT, Treasure T. Monitoring surgical performance using
  risk-adjusted cumulative sum charts. Biostatistics 2000;1(4):441-452. For patient t with
  predicted risk p_t and outcome y_t (1 = adverse), the log-likelihood-ratio weight for a
  change of the odds by R_A is W_t = y_t ln(R_A) - ln(1 - p_t + R_A p_t), and
  S_t = max(0, S_{t-1} + W_t). R_A > 1 looks for deterioration, R_A < 1 for improvement.
- Steiner SH. Risk-adjusted monitoring of outcomes in health care. In: Statistics in Action,
  CRC 2014, p. 225-241 (worked weights reproduced in the tests, via the R package vlad).
- Lovegrove J, Valencia O, Treasure T, Sherlaw-Johnson C, Gallivan S. Monitoring the results
  of cardiac surgery by variable life-adjusted display. Lancet 1997;350:1128-1130:
  VLAD_t = Σ (p_i - y_i), expected minus observed adverse outcomes ("lives saved").

The control limit h is chosen, when not given, so that the in-control average run length
(ARL0) is the one asked for: in-control patients are drawn from the observed case mix with
y ~ Bernoulli(p), simulated with a seeded generator (:func:`limit_for_arl`), or the ARL is
computed by the Markov-chain approximation Steiner et al. 2000 §3 use
(:func:`markov_limit_for_arl`). :meth:`RunLengths.limit_within` chooses h for a chance of an
alarm within n in-control cases instead (a chart's false alarms per year).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg

DEFAULT_ARL0 = 1000.0


def cusum_weights(outcome: Any, p: Any, odds_ratio: float) -> np.ndarray:
    """Steiner et al. (2000) weights W = y ln(R_A) - ln(1 - p + R_A p)."""
    y = np.asarray(outcome, float)
    pr = np.asarray(p, float)
    return y * np.log(odds_ratio) - np.log(1 - pr + odds_ratio * pr)


def _cusum_path(w: np.ndarray) -> np.ndarray:
    """S_t = max(0, S_{t-1} + W_t), S_0 = 0, in closed form: with C_t = W_1 + ... + W_t (C_0 = 0),
    S_t = C_t - min(C_0, ..., C_t) (the Lindley recursion of a reflected random walk). Equal to
    the recursion up to floating-point rounding of the running sums (2e-10 over 2.6M simulated
    cases), and vectorised: a Python loop took ~1 s for the 2.6M cases of 1M stays."""
    c = np.cumsum(np.asarray(w, float))
    return c - np.minimum.accumulate(np.minimum(c, 0.0))


def _check(outcome: Any, p: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(outcome, float)
    pr = np.asarray(p, float)
    if y.shape != pr.shape or y.ndim != 1:
        raise ValueError("outcome and p must be 1-d and of the same length")
    if not np.all(np.isin(y, (0.0, 1.0))):
        raise ValueError("outcome must be 0 or 1")
    if np.any(~np.isfinite(pr)) or np.any((pr <= 0) | (pr >= 1)):
        raise ValueError("predicted risks p must lie strictly between 0 and 1")
    return y, pr


def limit_for_arl(
    p: Any,
    odds_ratio: float,
    arl0: float,
    *,
    seed: int = 0,
    n_sim: int = 400,
    horizon: int | None = None,
) -> float:
    """Control limit h whose simulated in-control ARL is ``arl0`` for this case mix.

    One seeded pass simulates ``n_sim`` in-control CUSUMs (patients drawn from ``p`` with
    y ~ Bernoulli(p)) for ``horizon`` patients (default 10·ARL0: a run longer than that has
    probability ~e^-10) and records when each one first exceeds every level
    (:func:`run_lengths`); the ARL as a function of h is then read off and h found by bisection,
    so every candidate h is judged on the same random numbers (monotone in h). The ARL is the
    censored-exponential estimate Σ min(RLᵢ, horizon) / (chains that signalled): the mean run
    length when every chain signals, and still unbiased for the (near-geometric) in-control run
    length when the horizon is shorter than the ARL, which lets a build ask for ARL0 = 20
    site-years of cases while simulating only a few site-years.
    """
    if arl0 < 1:
        raise ValueError("arl0 must be at least 1")
    horizon = int(np.ceil(10 * arl0)) if horizon is None else horizon
    return run_lengths(p, odds_ratio, seed=seed, n_sim=n_sim, horizon=horizon).limit(arl0)


class RunLengths:
    """The first-passage records of ``n_sim`` simulated in-control CUSUMs: the in-control ARL
    as a function of h (:meth:`arl`) and the h of a wanted ARL (:meth:`limit`), for any number
    of targets from one simulation."""

    def __init__(
        self, chain: np.ndarray, time: np.ndarray, value: np.ndarray, n_sim: int, horizon: int
    ) -> None:
        # Each chain's records rise in time and value: sorted by (chain, value), the first
        # passage over h is the record just after h in its chain's block (one searchsorted for
        # all chains).
        self._span = float(value.max()) + 1.0 if value.size else 1.0
        order = np.lexsort((value, chain))
        chain, self._time, value = chain[order], time[order], value[order]
        self._keyed = chain * self._span + value
        self._block_end = np.searchsorted(chain, np.arange(n_sim), side="right")
        self._offsets = np.arange(n_sim) * self._span
        self.top = float(value.max()) if value.size else 1.0
        self.horizon = horizon

    def _first_passage(self, h: float) -> tuple[np.ndarray, np.ndarray]:
        """Each chain's first case above ``h`` (the horizon when it never got there), and
        whether it got there."""
        at = np.searchsorted(self._keyed, self._offsets + h, side="right")
        crossed = at < self._block_end
        if not self._time.size:  # no chain ever left 0
            return np.full(at.size, self.horizon), crossed
        return np.where(
            crossed, self._time[np.minimum(at, self._time.size - 1)], self.horizon
        ), crossed

    def arl(self, h: float) -> float:
        """Σ min(RLᵢ, horizon) / (chains that crossed h); inf when none did."""
        first, crossed = self._first_passage(h)
        n_crossed = int(crossed.sum())
        return float(first.sum() / n_crossed) if n_crossed else float("inf")

    def limit(self, arl0: float) -> float:
        """The h whose ARL is ``arl0`` (bisection; the highest level reached when even that
        signals too soon)."""
        if arl0 < 1:
            raise ValueError("arl0 must be at least 1")
        return self._bisect(lambda h: self.arl(h) < arl0)

    def alarm_rate(self, h: float, n: float) -> float:
        """The share of the chains whose path exceeds ``h`` within their first ``n`` cases
        (``n`` at most the horizon): the chance of an in-control alarm within n cases."""
        if n > self.horizon:
            raise ValueError(f"n = {n} is beyond the simulated horizon {self.horizon}")
        first, crossed = self._first_passage(h)
        return float(np.mean(crossed & (first <= n)))

    def limit_within(self, n: float, rate: float) -> float:
        """The h whose chance of an in-control alarm within ``n`` cases is ``rate``
        (bisection; the highest level reached when even that alarms too often). An empirical
        quantile of the chains' highest value in n cases: its Monte-Carlo error is binomial,
        sqrt(rate (1 - rate) / chains) (±0.7 points at 5% and 1,000 chains)."""
        if not 0 < rate < 1:
            raise ValueError("rate must lie strictly between 0 and 1")
        return self._bisect(lambda h: self.alarm_rate(h, n) > rate)

    def _bisect(self, too_low: Any) -> float:
        """The lowest h (to 50 halvings) at which ``too_low`` no longer holds, for a
        ``too_low`` that is monotone in h; the highest level reached when it holds there."""
        lo, hi = 0.0, self.top
        if too_low(hi):
            return hi
        for _ in range(50):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if too_low(mid) else (lo, mid)
        return hi


def run_lengths(
    p: Any, odds_ratio: float, *, seed: int = 0, n_sim: int = 400, horizon: int = 10_000
) -> RunLengths:
    """Simulate ``n_sim`` in-control CUSUMs of ``horizon`` patients each (risks drawn from
    ``p``, y ~ Bernoulli(p), seeded) and keep, per chain, when its path first exceeds every
    level it reaches. The path is computed in closed form per chunk (Lindley:
    S_t = C_t - min(0, min_{j<=t} C_j), C_0 = S_0)."""
    pr = np.asarray(p, float)
    rng = np.random.default_rng(seed)
    horizon = max(1, int(horizon))
    s = np.zeros(n_sim)
    top = np.zeros(n_sim)
    chains, times, values = [], [], []
    chunk = max(1, min(4096, 2_000_000 // max(n_sim, 1)))
    log_ra = np.log(odds_ratio)
    # W = y ln(R_A) - ln(1 - p + R_A p): the second term per case once, not per draw (a log
    # per simulated patient was a third of the time); -L + y ln(R_A) is y ln(R_A) - L exactly.
    w0 = -np.log(1 - pr + odds_ratio * pr)
    for start in range(0, horizon, chunk):
        steps = min(chunk, horizon - start)
        pick = rng.integers(pr.size, size=(steps, n_sim))
        y = rng.random((steps, n_sim)) < pr[pick]
        c = w0[pick]
        np.add(c, log_ra, out=c, where=y)
        # One row per chain: the running sums and minima then walk contiguous memory (along
        # the draws' first axis they took ~40% more time), with the same sums in the same order.
        c = np.ascontiguousarray(c.T)
        np.cumsum(c, axis=1, out=c)
        c += s[:, None]
        low = np.minimum.accumulate(c, axis=1)
        path = np.subtract(c, np.minimum(low, 0.0, out=low), out=low)
        # Records only in the chains that beat their running maximum in this chunk (after the
        # first chunks, a fraction of them): the running maximum of the others is unchanged.
        high = path.max(axis=1)
        rising = np.flatnonzero(high > top)
        if rising.size:
            sub = path[rising]
            best = np.maximum.accumulate(sub, axis=1)
            np.maximum(best, top[rising][:, None], out=best)
            before = np.empty_like(best)
            before[:, 0], before[:, 1:] = top[rising], best[:, :-1]
            col, k = np.nonzero(sub > before)
            chains.append(rising[col])
            times.append(start + k + 1)
            values.append(sub[col, k])
        s = path[:, -1].copy()
        top = np.maximum(top, high)
    chain = np.concatenate(chains) if chains else np.zeros(0, int)
    time = np.concatenate(times) if times else np.zeros(0, int)
    value = np.concatenate(values) if values else np.zeros(0)
    return RunLengths(chain, time, value, n_sim, horizon)


# The Markov chain's grid: the event weight ln(R_A) spans this many cells (a cell of 0.011 at
# R_A = 2); the chain is also solved at a half and a quarter as many and the limits
# extrapolated (markov_limit_for_arl): within ~0.005 of the limit for common outcomes, ~0.025 for
# rare ones (tests/stats/test_cusum.py).
ARL_CELLS = 64


def markov_limit_for_arl(
    p: Any, odds_ratio: float, arl0: float, *, cells: int = ARL_CELLS
) -> float:
    """Control limit h whose in-control ARL, from S_0 = 0, is ``arl0`` for this case mix.

    The ARL comes from the Markov-chain approximation of Brook and Evans (Biometrika 1972;
    59:243-251), the way Steiner et al. (2000, §3) choose h for the risk-adjusted CUSUM, here
    discretised as studied by Knoth, Wittenberg and Gan (Statistics in Medicine 2019,
    doi:10.1002/sim.8104; the R package vlad's racusum_arl_mc): S is kept on a grid of
    cells of |ln R_A| / ``cells``, and each case's two weights (event, no event; p from the
    observed case mix) move S by a fractional number of cells whose probability is split
    between the two nearest (so each step's mean is exact).
    One factorisation gives the ARL at every grid level (:func:`arl_curve`); h is read off by
    interpolating ln ARL, at ``cells / 4`` (which also bounds it), ``cells / 2`` and ``cells``
    cells, and extrapolated to a fine grid (:func:`_extrapolated`).
    Deterministic: no seed, no Monte-Carlo error (a simulation of 1,000 chains had an error of
    ~0.2 in h at ARL0 = 3 million cases).
    """
    if arl0 < 1:
        raise ValueError("arl0 must be at least 1")
    mix = _case_mix(p)
    # Lorden (Ann. Math. Statist. 1971): a CUSUM of log-likelihood ratios has ARL0 >= e^h,
    # so h <= ln(ARL0); the margin covers the grid's error.
    top = float(np.log(arl0)) + 0.5
    rough = _limit_on_grid(mix, odds_ratio, arl0, top, max(cells // 4, 4))
    top = rough * 1.02 + 0.25
    half = _limit_on_grid(mix, odds_ratio, arl0, top, max(cells // 2, 2))
    fine = _limit_on_grid(mix, odds_ratio, arl0, top, cells)
    return _extrapolated(rough, half, fine)


def _extrapolated(rough: float, half: float, fine: float) -> float:
    """Richardson's extrapolation of the limits of three grids, each with twice the cells of
    the one before, with the order of the grid error estimated from them: the error falls as
    cells^-2 for common outcomes and as cells^-1 for rare ones (p ~ 0.2%, whose no-event
    weight is a fraction of a cell), the error ratio of two halvings between 2 and 4. Without
    a steady fall (the last grid moved more than the one before, or the other way), the
    finest grid's limit."""
    first, second = rough - half, half - fine
    if first * second <= 0 or abs(first) <= abs(second):
        return fine
    ratio = min(max(first / second, 2.0), 4.0)
    return fine - second / (ratio - 1)


def arl_curve(
    p: Any, odds_ratio: float, h_max: float, *, cells: int = ARL_CELLS
) -> tuple[np.ndarray, np.ndarray]:
    """(h, in-control ARL from S_0 = 0) at every grid level h = k·|ln R_A|/cells <= h_max
    (k = 1, 2, ...) of the Markov chain of :func:`markov_limit_for_arl`, from one factorisation."""
    step = abs(float(np.log(odds_ratio))) / cells
    a = _chain(_case_mix(p), odds_ratio, step, int(np.ceil(h_max / step)))
    arl = _arls(a)
    if arl.size < a.shape[0]:  # a pivot ended the prefix: the rest one solve each
        rest = [_arl_direct(a, k) for k in range(arl.size + 1, a.shape[0] + 1)]
        arl = np.concatenate([arl, rest])
    return step * np.arange(1, arl.size + 1), arl


def _case_mix(p: Any) -> tuple[np.ndarray, np.ndarray]:
    """The risks as distinct values and their shares: risks within 0.1% of each other (on the
    log scale) are one value, their mean, so the mix keeps its mean risk exactly."""
    pr = np.clip(np.asarray(p, float).ravel(), 1e-9, 1 - 1e-9)
    if not pr.size:
        raise ValueError("the case mix is empty")
    # Grouped by counting, not sorting: the log risks in thousandths are whole numbers within
    # ~21,000 of each other (p >= 1e-9), so a bincount finds the groups in ascending order
    # (np.unique's sort of a site's 150,000 risks was a quarter of a limit's time).
    key = np.rint(np.log(pr) * 1000).astype(np.int64)
    key -= key.min()
    count = np.bincount(key)
    used = count > 0
    count = count[used]
    return np.bincount(key, pr)[used] / count, count / count.sum()


def _steps(
    mix: tuple[np.ndarray, np.ndarray], odds_ratio: float, step: float
) -> tuple[np.ndarray, int]:
    """The distribution of one case's move in cells: (probabilities of moves lowest, lowest+1,
    ...; the lowest move). Each weight W / step lies between two whole moves and its
    probability is split between them in proportion to the distance (the mean move is W's)."""
    risk, share = mix
    no_event = -np.log(1 - risk + odds_ratio * risk)
    moves = np.concatenate([no_event + np.log(odds_ratio), no_event]) / step
    prob = np.concatenate([share * risk, share * (1 - risk)])
    below = np.floor(moves)
    upper = moves - below
    lowest = int(below.min())
    at = below.astype(np.int64) - lowest
    size = int(at.max()) + 2
    dist = np.bincount(at, prob * (1 - upper), size) + np.bincount(at + 1, prob * upper, size)
    return dist, lowest


def _chain(
    mix: tuple[np.ndarray, np.ndarray], odds_ratio: float, step: float, states: int
) -> np.ndarray:
    """I - Q of the chain with ``states`` transient states S = 0, step, 2·step, ...: from state
    j a move of m cells goes to max(0, j + m), and to absorption (a signal) when j + m >= states.
    The diagonal is the chance of leaving j (moving elsewhere or signalling), summed from
    the moves rather than taken as 1 - Q[j, j], so the matrix stays diagonally dominant in
    floating point (no pivoting is needed to factorise it, see :func:`_arls`)."""
    dist, lowest = _steps(mix, odds_ratio, step)
    j = np.arange(states)

    def move(m: np.ndarray) -> np.ndarray:
        at = m - lowest
        inside = (at >= 0) & (at < dist.size)
        return np.where(inside, dist[np.clip(at, 0, dist.size - 1)], 0.0)

    q = scipy.linalg.toeplitz(move(-j), move(j))  # q[j, k] = P(move = k - j)
    below = np.concatenate([[0.0], np.cumsum(dist)])  # below[i] = P(move < lowest + i)
    q[:, 0] = below[np.clip(1 - j - lowest, 0, dist.size)]  # S falls to 0
    above = np.concatenate([np.cumsum(dist[::-1])[::-1], [0.0]])  # above[i] = P(move >= lowest + i)
    signal = above[np.clip(states - j - lowest, 0, dist.size)]
    q[j, j] = 0.0
    leave = q.sum(axis=1) + signal  # a sum of non-negative terms: never below any one of them
    a = np.negative(q, out=q)
    a[j, j] = leave
    return a


def _arls(a: np.ndarray) -> np.ndarray:
    """ARL from state 0 of the chain cut at 1, 2, ..., n states (the leading blocks of ``a``)
    from one LU factorisation of aᵀ (column diagonally dominant: partial pivoting keeps the
    diagonal). With aᵀ = LU, a_k = U_kᵀ L_kᵀ and ARL_k = e₀ᵀ a_k⁻¹ 1 = (L_k⁻¹ e₀)·(U_k⁻ᵀ 1):
    both triangular solves are prefixes of the full ones. Only the prefix before the first row
    exchange is returned (a tie broken the other way by rounding would end it)."""
    n = a.shape[0]
    lu, piv = scipy.linalg.lu_factor(a.T, check_finite=False)
    swapped = np.flatnonzero(piv != np.arange(n))
    k = int(swapped[0]) if swapped.size else n
    lu = lu[:k, :k]
    e0 = np.zeros(k)
    e0[:1] = 1.0
    x = scipy.linalg.solve_triangular(lu, e0, lower=True, unit_diagonal=True, check_finite=False)
    y = scipy.linalg.solve_triangular(lu, np.ones(k), trans="T", check_finite=False)
    return np.cumsum(x * y)


def _arl_direct(a: np.ndarray, k: int) -> float:
    """ARL from state 0 of the chain cut at k states, by one pivoted solve."""
    return float(np.linalg.solve(a[:k, :k], np.ones(k))[0])


def _limit_on_grid(
    mix: tuple[np.ndarray, np.ndarray], odds_ratio: float, arl0: float, top: float, cells: int
) -> float:
    """h at which ln ARL, interpolated linearly between the grid levels up to ``top``, reaches
    ln ``arl0`` (``top`` is raised when it is too low)."""
    step = abs(float(np.log(odds_ratio))) / cells
    while (
        found := _bracket(_chain(mix, odds_ratio, step, int(np.ceil(top / step))), arl0)
    ) is None:
        top *= 1.5
    level, below, above = found  # ARL(level) = below < arl0 <= above = ARL(level + 1)
    if level == 0:  # below the first level: ln ARL from 0 at h = 0
        return step * float(np.log(arl0) / np.log(max(above, 1.0 + 1e-12)))
    return step * (level + float(np.log(arl0 / below) / np.log(above / below)))


def _bracket(a: np.ndarray, arl0: float) -> tuple[int, float, float] | None:
    """(k, ARL(k), ARL(k + 1)) with ARL(k) < arl0 <= ARL(k + 1), k states cut (ARL(0) = 1);
    None when even all states give less. Past a row exchange, where :func:`_arls` stops,
    bisection on the number of states with one pivoted solve each."""
    arl = _arls(a)
    n = a.shape[0]
    if arl[-1] >= arl0 or arl.size == n:
        k = int(np.searchsorted(arl, arl0))
        if k == n:
            return None
        return k, float(arl[k - 1]) if k else 1.0, float(arl[k])
    lo, hi = arl.size, n
    if _arl_direct(a, hi) < arl0:
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if _arl_direct(a, mid) < arl0 else (lo, mid)
    return lo, _arl_direct(a, lo) if lo > arl.size else float(arl[-1]), _arl_direct(a, hi)


def bernoulli_cusum(
    outcome: Any,
    p: Any,
    *,
    odds_ratio: float = 2.0,
    h: float | None = None,
    arl0: float | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Upper and lower risk-adjusted Bernoulli CUSUM (Steiner et al. 2000), one row per case.

    Args:
        outcome: 1 for the adverse outcome (death, readmission...), 0 otherwise, in time order.
        p: each case's predicted risk of the adverse outcome from the risk model.
        odds_ratio: R_A of the upper chart (deterioration); the lower chart uses 1/R_A.
        h: control limit for both sides. When None it is found by seeded simulation from
            ``arl0`` (default 1000 cases) for each side separately.
        seed: seed of the simulation.

    Returns:
        DataFrame with t (1..), outcome, p, w_upper, s_upper, w_lower, s_lower (both sides
        are kept non-negative, lower = evidence of improvement), h_upper, h_lower,
        signal_upper, signal_lower. ``df.attrs`` holds odds_ratio, h_upper, h_lower, arl0.
        The CUSUMs are not reset after a signal.
    """
    if odds_ratio <= 0 or odds_ratio == 1:
        raise ValueError("odds_ratio must be positive and not 1")
    y, pr = _check(outcome, p)
    ra_up, ra_low = odds_ratio, 1 / odds_ratio
    if h is None:
        target = DEFAULT_ARL0 if arl0 is None else float(arl0)
        h_up = limit_for_arl(pr, ra_up, target, seed=seed)
        h_low = limit_for_arl(pr, ra_low, target, seed=seed + 1)
    else:
        if h <= 0:
            raise ValueError("h must be positive")
        h_up = h_low = float(h)
        target = float("nan") if arl0 is None else float(arl0)
    w_up = cusum_weights(y, pr, ra_up)
    w_low = cusum_weights(y, pr, ra_low)
    s_up, s_low = _cusum_path(w_up), _cusum_path(w_low)
    d = pd.DataFrame(
        {
            "t": np.arange(1, y.size + 1),
            "outcome": y,
            "p": pr,
            "w_upper": w_up,
            "s_upper": s_up,
            "w_lower": w_low,
            "s_lower": s_low,
            "h_upper": h_up,
            "h_lower": h_low,
            "signal_upper": s_up > h_up,
            "signal_lower": s_low > h_low,
        }
    )
    d.attrs.update(odds_ratio=odds_ratio, h_upper=h_up, h_lower=h_low, arl0=target)
    return d


def vlad(outcome: Any, p: Any) -> np.ndarray:
    """Variable life-adjusted display: cumulative expected minus observed, Σ(p_i - y_i)."""
    y, pr = _check(outcome, p)
    return np.cumsum(pr - y)
