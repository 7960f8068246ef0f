"""models.cal.config: the presets' option checks raise the CLI's own messages."""

from __future__ import annotations

import math

import pytest

from calbio.core.errors import CalbioInputError


def test_api_raises_the_cli_text() -> None:
    from calbio.core.options import check_training
    from calbio.models.cal.config import get_preset

    for field, value in (("lr", -1.0), ("lr", math.nan), ("threads", -3), ("score", "bogus")):
        with pytest.raises(ValueError) as api:
            get_preset("fast").replace(**{field: value})
        with pytest.raises(CalbioInputError) as cli_side:
            check_training({field: value})
        assert str(api.value) == str(cli_side.value)
        assert f"--{field}" in str(api.value)
