"""Benjamini-Hochberg q-values, as R's p.adjust(method = "BH")."""

from __future__ import annotations

import numpy as np

from cmo.stats.multiplicity import bh_groups, bh_qvalues


def test_q_values_by_hand():
    """Given p = (0.01, 0.04, 0.03, 0.005, 0.2), when adjusted, then q equals
    p.adjust(p, "BH") = (0.025, 0.05, 0.05, 0.025, 0.2): sorted p x m / rank, cumulative minimum
    from the largest."""
    q = bh_qvalues([0.01, 0.04, 0.03, 0.005, 0.2])
    np.testing.assert_allclose(q, [0.025, 0.05, 0.05, 0.025, 0.2], rtol=1e-12)
    np.testing.assert_allclose(bh_qvalues([0.01, 0.02, 0.03, 0.04, 0.05]), [0.05] * 5)


def test_benjamini_hochberg_1995_example():
    """PUBLISHED: the 15 p-values of Benjamini & Hochberg (JRSS B 1995, §4.1): at FDR 0.05
    the procedure rejects the four smallest (Bonferroni only three)."""
    p = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459,
         0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0]  # fmt: skip
    q = bh_qvalues(p)
    assert (q <= 0.05).sum() == 4
    np.testing.assert_allclose(q[:5], [0.0015, 0.003, 0.0095, 0.035625, 0.0603], rtol=1e-9)
    assert np.all(q >= np.asarray(p)) and np.all(q <= 1)


def test_missing_p_do_not_count_and_groups_are_separate():
    q = bh_qvalues([0.01, np.nan, 0.04])
    assert np.isnan(q[1])
    np.testing.assert_allclose(q[[0, 2]], [0.02, 0.04])
    g = bh_groups([0.01, 0.04, 0.01, 0.04], ["a", "a", "b", "b"])
    np.testing.assert_allclose(g, [0.02, 0.04, 0.02, 0.04])
