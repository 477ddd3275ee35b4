"""Pagination, pure: cursors, page sizes, and walking a dense grid in either direction."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import UserInputError
from app.pagination import (
    DEFAULT_PAGE_SIZE,
    HOURLY_CURSOR,
    MAX_PAGE_SIZE,
    SIM_CARD_CURSOR,
    Grid,
    decode_cursor,
    decode_time_cursor,
    dense_page,
    encode_cursor,
    page_size,
    slice_grid,
)


def test_a_cursor_is_opaque_and_round_trips() -> None:
    cursor = encode_cursor(HOURLY_CURSOR, 1644451200)
    assert "1644451200" not in cursor
    assert decode_time_cursor(cursor, HOURLY_CURSOR) == 1644451200
    assert decode_cursor(encode_cursor(SIM_CARD_CURSOR, "89:44"), SIM_CARD_CURSOR) == "89:44"


@pytest.mark.parametrize("cursor", [
    "", "not base64!", "!!!!", "a" * 401,
    base64.urlsafe_b64encode(b"2:usage-hourly:1").decode(),  # unknown version
    base64.urlsafe_b64encode(b"1:usage-hourly:ten").decode(),  # not a time
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
    base64.urlsafe_b64encode(b"garbage").decode(),
])
def test_a_corrupt_cursor_is_the_clients_error(cursor: str) -> None:
    with pytest.raises(UserInputError) as raised:
        decode_time_cursor(cursor, HOURLY_CURSOR)
    assert raised.value.extensions == {"code": "BAD_USER_INPUT"}


def test_a_cursor_of_another_list_is_refused() -> None:
    with pytest.raises(UserInputError, match="belongs to a sim-card list"):
        decode_time_cursor(encode_cursor(SIM_CARD_CURSOR, "89440001"), HOURLY_CURSOR)
    with pytest.raises(UserInputError, match="belongs to a usage-daily list"):
        decode_time_cursor(encode_cursor("usage-daily", 0), HOURLY_CURSOR)


def test_page_sizes() -> None:
    assert page_size(None, None) == (DEFAULT_PAGE_SIZE, False)
    assert page_size(5, None) == (5, False)
    assert page_size(None, 7) == (7, True)
    assert page_size(0, None) == (0, False)
    assert page_size(MAX_PAGE_SIZE, None) == (MAX_PAGE_SIZE, False)
    for first, last, message in [
        (1, 1, "not both"), (-1, None, "first must not be negative"),
        (None, -1, "last must not be negative"), (MAX_PAGE_SIZE + 1, None, "at most 1000"),
    ]:
        with pytest.raises(UserInputError, match=message):
            page_size(first, last)


def test_grid_indexes() -> None:
    grid = Grid(100, 200, 10)
    assert grid.count == 10
    assert [grid.index_after(t) for t in (0, 99, 100, 105, 110, 190, 500)] == [0, 0, 1, 1, 2, 10, 10]
    assert [grid.index_before(t) for t in (0, 100, 101, 110, 111, 200, 500)] == [0, 0, 1, 1, 2, 10, 10]


grids = st.builds(
    lambda start, count, step: Grid(start * step, (start + count) * step, step),
    st.integers(-1000, 1000), st.integers(1, 300), st.sampled_from([3600, 86400]),
)


@given(grids, st.integers(0, 40).map(lambda n: n or 1))
def test_walking_forward_visits_every_bucket_once(grid: Grid, size: int) -> None:
    seen: list[int] = []
    after = None
    for _ in range(grid.count + 2):
        page = dense_page(slice_grid(grid, HOURLY_CURSOR, first=size, after=after))
        seen.extend(range(page.start, page.end, grid.step))
        assert page.has_previous_page == (after is not None)
        if not page.has_next_page:
            break
        after = encode_cursor(HOURLY_CURSOR, page.end - grid.step)
    assert seen == list(range(grid.start, grid.end, grid.step))


@given(grids, st.integers(1, 40))
def test_walking_backward_visits_every_bucket_once(grid: Grid, size: int) -> None:
    seen: list[int] = []
    before = None
    for _ in range(grid.count + 2):
        page = dense_page(slice_grid(grid, HOURLY_CURSOR, last=size, before=before))
        seen[:0] = range(page.start, page.end, grid.step)
        assert page.has_next_page == (before is not None)
        if not page.has_previous_page:
            break
        before = encode_cursor(HOURLY_CURSOR, page.start)
    assert seen == list(range(grid.start, grid.end, grid.step))


@given(grids, st.integers(-10**6, 10**6), st.integers(-10**6, 10**6))
def test_after_and_before_bound_the_page(grid: Grid, after: int, before: int) -> None:
    page = dense_page(slice_grid(
        grid, HOURLY_CURSOR, first=MAX_PAGE_SIZE,
        after=encode_cursor(HOURLY_CURSOR, grid.start + after),
        before=encode_cursor(HOURLY_CURSOR, grid.start + before),
    ))
    expected = [t for t in range(grid.start, grid.end, grid.step)
                if grid.start + after < t < grid.start + before][:MAX_PAGE_SIZE]
    assert list(range(page.start, page.end, grid.step)) == expected


def test_an_empty_slice() -> None:
    grid = Grid(0, 36000, 3600)
    page = dense_page(slice_grid(grid, HOURLY_CURSOR, first=0))
    assert (page.start, page.end, page.has_next_page) == (0, 0, True)
    last = encode_cursor(HOURLY_CURSOR, 32400)
    page = dense_page(slice_grid(grid, HOURLY_CURSOR, after=last))
    assert page.start == page.end and not page.has_next_page and page.has_previous_page
