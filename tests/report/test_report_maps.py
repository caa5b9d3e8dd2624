"""Map furniture: every map's scale bar has a round length that fits, and a north arrow."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
from hypothesis import given
from hypothesis import strategies as st

from icam.report.maps import _nice_length_km, map_furniture


@given(st.floats(min_value=0.01, max_value=20_000))
def test_scale_bar_length_is_round_and_about_a_fifth_of_the_width(width_km):
    length = _nice_length_km(width_km)
    mantissa = length / 10 ** math.floor(math.log10(length) + 1e-9)
    assert round(mantissa, 6) in (1.0, 2.0, 5.0)
    # the largest of 1, 2, 5 x 10^k not above a fifth of the width: the next one up (at most 2.5 times
    # larger) would not fit
    assert width_km / 5 / 2.5 - 1e-9 <= length <= width_km / 5 + 1e-9


def test_furniture_draws_a_labelled_scale_bar_and_north():
    fig, ax = plt.subplots()
    extent = (230.0, 260.0, 9345.0, 9372.0)  # 30 km wide: a 5 km bar
    map_furniture(ax, extent)
    texts = [t.get_text() for t in ax.texts]
    assert "5 km" in texts and "N" in texts
    bar = ax.lines[0].get_xdata()
    assert math.isclose(bar[1] - bar[0], 5.0) and extent[0] < bar[0] < bar[1] < extent[1]
    plt.close(fig)
