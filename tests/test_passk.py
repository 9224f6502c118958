"""pass@k against values worked out by hand from 1 - C(n-c, k) / C(n, k)."""

from __future__ import annotations

import pytest

from jre.passk import pass_at_k


@pytest.mark.parametrize("n,c,k,expected", [
    (10, 0, 1, 0.0),
    (10, 3, 1, 0.3),                      # 1 - 7/10
    (10, 10, 1, 1.0),
    (10, 1, 10, 1.0),                     # any correct sample in all 10 drawn
    (10, 0, 10, 0.0),
    (5, 2, 2, 1 - 3 / 10),                # 1 - C(3,2)/C(5,2) = 1 - 3/10
    (10, 3, 5, 1 - 21 / 252),             # 1 - C(7,5)/C(10,5)
    (4, 1, 3, 0.75),                      # 1 - C(3,3)/C(4,3) = 1 - 1/4
    (20, 5, 10, 1 - 3003 / 184756),       # 1 - C(15,10)/C(20,10)
])
def test_pass_at_k_hand_computed(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("n,c,k", [(5, 6, 1), (5, -1, 1), (5, 1, 6), (5, 1, 0)])
def test_bad_arguments(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)
