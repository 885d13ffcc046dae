"""Shared by the geometry tests: the standard sources and box, and hypothesis strategies over
sizes 1..20000."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import settings
from hypothesis import strategies as st

from resizer.geometry import Sizing

PROPERTY = settings(max_examples=200, deadline=None)

BOX_224 = Sizing("size", width=224, height=224)
LANDSCAPE = (4000, 3000)
PORTRAIT = (3000, 4000)
SQUARE = (3000, 3000)

sides = st.integers(1, 20000)
sizes = st.tuples(sides, sides)
factors = st.fractions(min_value=Fraction(1, 20000), max_value=20, max_denominator=20000)
boxes = st.builds(lambda width, height: Sizing("size", width=width, height=height), sides, sides)
any_sizing = st.one_of(
    boxes,
    st.builds(lambda width: Sizing("size", width=width), sides),
    st.builds(lambda height: Sizing("size", height=height), sides),
    st.builds(lambda length: Sizing("shorter", length=length), sides),
    st.builds(lambda length: Sizing("longer", length=length), sides),
    st.builds(lambda factor: Sizing("scale", factor=factor), factors),
)
