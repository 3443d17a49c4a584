"""A class the user adds gets a colour no class has: the label folder refuses two classes of
one colour (they would read back as one)."""

from __future__ import annotations

import pytest

from livesegment.core.compose.palette import NEW_COLOURS, free_colour


@pytest.mark.parametrize("taken, expected", [
    ([], NEW_COLOURS[0]),
    ([(0, 0, 0)], NEW_COLOURS[0]),                        # the background's black is no list colour
    ([NEW_COLOURS[0]], NEW_COLOURS[1]),
    ([NEW_COLOURS[1], NEW_COLOURS[0]], NEW_COLOURS[2]),   # order taken does not matter
    ([NEW_COLOURS[2]], NEW_COLOURS[0]),                   # a gap is filled first
    (list(NEW_COLOURS), ((10 * 97) % 256, (10 * 57 + 80) % 256, (10 * 151 + 160) % 256)),
])
def test_the_first_free_colour(taken, expected):
    assert free_colour(taken) == expected


def test_colours_stay_free_past_the_list():
    taken: list[tuple[int, int, int]] = []
    for _ in range(60):
        taken.append(free_colour(taken))
    assert len(set(taken)) == 60
    assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in taken)
