"""core.options: the validators behind every option (property tests)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from calbio.core.errors import CalbioInputError


@settings(max_examples=200, deadline=None)
@given(
    value=st.one_of(
        st.integers(-10, 10), st.floats(allow_nan=True), st.none(), st.booleans(), st.text()
    )
)
def test_validators_property(value) -> None:
    from calbio.core.options import check_fraction, check_int, check_positive

    def ok(fn) -> bool:
        try:
            fn()
            return True
        except CalbioInputError as exc:
            assert "\n" not in str(exc)
            return False

    is_num = isinstance(value, int | float) and not isinstance(value, bool)
    assert ok(lambda: check_int("top", value, 1)) == (
        isinstance(value, int) and is_num and value >= 1
    )
    finite = is_num and math.isfinite(value)
    assert ok(lambda: check_positive("lr", value)) == (finite and value > 0)
    assert ok(lambda: check_fraction("test_fraction", value)) == (finite and 0 < value < 1)
