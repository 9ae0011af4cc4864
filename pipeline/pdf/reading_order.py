"""Reading order of a page's lines and regions: a recursive XY-cut that respects columns."""
from __future__ import annotations

from pipeline.pdf.columns import gutter_columns, split_on_gaps

__all__ = ["column_areas", "split_on_gaps", "xy_cut"]


def column_gutters(items: list, min_gap: float, cache: dict | None = None) -> list[tuple[float, float]]:
    """The gutters between the items' columns (x ranges at least min_gap wide)."""
    if len(items) < 2:
        return []
    groups = columns_of(items, min_gap, cache)
    return [
        (max(item.right for item in left), min(item.left for item in right))
        for left, right in zip(groups, groups[1:])
    ]


def merge_column_bands(bands: list[list], gap_x: float, gap_y: float, cache: dict | None = None) -> list[list]:
    """Neighbouring horizontal bands joined when they continue the same columns."""
    # A two-column page whose columns both have a gap at the same height would otherwise be
    # cut across first, and read left-top, right-top, left-bottom, right-bottom.
    merged = [bands[0]]
    gutters = column_gutters(bands[0], gap_x, cache)
    for band in bands[1:]:
        band_gutters = column_gutters(band, gap_x, cache)
        if continues_columns(merged[-1], band, gap_x, gap_y, gutters, band_gutters):
            merged[-1] = merged[-1] + band
            gutters = column_gutters(merged[-1], gap_x, cache) if gutters or band_gutters else []
        else:
            merged.append(band)
            gutters = band_gutters
    return merged


def continues_columns(upper: list, lower: list, gap_x: float, gap_y: float,
                      upper_gutters: list, lower_gutters: list) -> bool:
    """Whether `lower` carries on the columns (whose gutters are given) of the band just above it."""
    shares = any(
        min(a_end, b_end) - max(a_start, b_start) >= gap_x * 0.5
        for a_start, a_end in upper_gutters for b_start, b_end in lower_gutters
    )
    close = min(item.top for item in lower) - max(item.bottom for item in upper) <= 2 * gap_y
    if shares and (not one_row(upper) and not one_row(lower) or close):
        return True  # the same gutter, or a row of column heads just above (or below) the columns
    if not upper_gutters or lower_gutters:
        return False
    # The last lines of a column that runs on below its shorter neighbour: they keep within
    # that column and follow its lines closely.
    left, right = min(item.left for item in lower), max(item.right for item in lower)
    edges = [float("-inf")] + [edge for gutter in upper_gutters for edge in gutter] + [float("inf")]
    for start, end in zip(edges[::2], edges[1::2]):
        if start <= left and right <= end:
            column = [item for item in upper if start <= item.left and item.right <= end]
            return bool(column) and min(item.top for item in lower) - max(item.bottom for item in column) <= 2 * gap_y
    return False


def one_row(items: list) -> bool:
    """Whether the items all share one row."""
    return max(item.top for item in items) < min(item.bottom for item in items)


def columns_of(items: list, gap_x: float, cache: dict | None = None) -> list[list]:
    """The columns of a set of items (one row of fragments far apart: each its own column),
    kept in `cache` (by the list, which the cache keeps alive) for the cut's later steps."""
    if cache is not None and id(items) in cache:
        return cache[id(items)][1]
    single = one_row(items)
    columns = gutter_columns(items, gap_x * 3 if single else gap_x, single)
    if cache is not None:
        cache[id(items)] = (items, columns)
    return columns


def xy_cut(items: list, gap_x: float, gap_y: float, depth: int = 0, cache: dict | None = None) -> list[list]:
    """Leaves of a recursive XY-cut, in reading order: columns left to right, bands top down."""
    if len(items) <= 1 or depth > 40:
        return [items]
    cache = {} if cache is None else cache
    columns = columns_of(items, gap_x, cache)
    if len(columns) > 1:
        return [leaf for column in columns for leaf in xy_cut(column, gap_x, gap_y, depth + 1, cache)]
    bands = split_on_gaps(items, False, gap_y)
    if len(bands) > 1:
        bands = merge_column_bands(bands, gap_x, gap_y, cache)
        if len(bands) == 1:
            return [items]
        return [leaf for band in bands for leaf in xy_cut(band, gap_x, gap_y, depth + 1, cache)]
    return [items]


def column_areas(items: list, gap_x: float, gap_y: float, depth: int = 0, cache: dict | None = None) -> list[list]:
    """The page cut into areas that no gutter runs through, in reading order: the XY-cut's
    columns, with the bands of each that hold no columns of their own kept together (a table's
    rows, however far apart). Tables are looked for inside one area at a time."""
    if len(items) <= 1 or depth > 40:
        return [items]
    cache = {} if cache is None else cache
    columns = columns_of(items, gap_x, cache)
    if len(columns) > 1:
        return [area for column in columns for area in column_areas(column, gap_x, gap_y, depth + 1, cache)]
    bands = split_on_gaps(items, False, gap_y)
    if len(bands) == 1:
        return [items]
    areas: list[list] = []
    plain: list = []  # consecutive bands without columns, one area
    for band in merge_column_bands(bands, gap_x, gap_y, cache):
        # A band of one row (a table's row, spaced apart from the next) is no columns of its own.
        single = len(band) == len(items) or one_row(band)
        inner = [band] if single else column_areas(band, gap_x, gap_y, depth + 1, cache)
        if len(inner) == 1:
            plain += band
            continue
        if plain:
            areas.append(plain)
            plain = []
        areas += inner
    if plain:
        areas.append(plain)
    return areas
