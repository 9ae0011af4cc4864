"""Reading order of a page's lines and regions: a recursive XY-cut that respects columns."""
from __future__ import annotations

from operator import attrgetter

LEFT, TOP = attrgetter("left"), attrgetter("top")


def split_on_gaps(items: list, horizontal: bool, min_gap: float) -> list[list]:
    """Items split into groups wherever their projection on one axis has a gap of min_gap."""
    if horizontal:
        ordered = sorted(items, key=LEFT)
        spans = [(item.left, item.right) for item in ordered]
    else:
        ordered = sorted(items, key=TOP)
        spans = [(item.top, item.bottom) for item in ordered]
    group: list = []
    groups: list[list] = [group]
    reach = None
    for item, (start, end) in zip(ordered, spans):
        if reach is None:
            reach = end
        else:
            if start - reach >= min_gap:
                group = []
                groups.append(group)
            if end > reach:
                reach = end
        group.append(item)
    return groups


def column_gutters(items: list, min_gap: float) -> list[tuple[float, float]]:
    """The empty vertical strips (x ranges at least min_gap wide) between items."""
    groups = split_on_gaps(items, True, min_gap)
    return [
        (max(item.right for item in left), min(item.left for item in right))
        for left, right in zip(groups, groups[1:])
    ]


def merge_column_bands(bands: list[list], gap_x: float, gap_y: float) -> list[list]:
    """Neighbouring horizontal bands joined when they continue the same columns."""
    # A two-column page whose columns both have a gap at the same height would otherwise be
    # cut across first, and read left-top, right-top, left-bottom, right-bottom.
    merged = [bands[0]]
    for band in bands[1:]:
        if continues_columns(merged[-1], band, gap_x, gap_y):
            merged[-1] = merged[-1] + band
        else:
            merged.append(band)
    return merged


def continues_columns(upper: list, lower: list, gap_x: float, gap_y: float) -> bool:
    """Whether `lower` carries on the columns of the band just above it."""
    upper_gutters, lower_gutters = column_gutters(upper, gap_x), column_gutters(lower, gap_x)
    shares = any(
        min(a_end, b_end) - max(a_start, b_start) >= gap_x * 0.5
        for a_start, a_end in upper_gutters for b_start, b_end in lower_gutters
    )
    close = min(item.top for item in lower) - max(item.bottom for item in upper) <= 2 * gap_y
    if shares and (len(upper) > 2 and len(lower) > 2 or close):
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


def merge_margin_columns(columns: list[list]) -> list[list]:
    """Narrow columns of labels beside the text (line or item numbers) joined to it."""
    # Such a column lines up row by row with its neighbour, so it is read along each row.
    merged = [columns[0]]
    for column in columns[1:]:
        if row_aligned_margin(merged[-1], column) or row_aligned_margin(column, merged[-1]):
            merged[-1] = merged[-1] + column
        else:
            merged.append(column)
    return merged


def row_aligned_margin(narrow: list, other: list) -> bool:
    """Whether `narrow` is a thin column of labels that line up row by row with `other`."""
    # Either each label sits on a row of the text, or (a numbered listing with blank lines)
    # each row of the text has its label.
    width = max(item.right for item in narrow) - min(item.left for item in narrow)
    other_width = max(item.right for item in other) - min(item.left for item in other)
    if len(narrow) < 2 or width > 0.15 * other_width or len(narrow) * len(other) > 250_000:
        return False
    labelled = [item for item in narrow if any(rows_overlap(item, peer) for peer in other)]
    if len(labelled) >= 0.8 * len(narrow):
        return True
    rows_labelled = sum(1 for peer in other if any(rows_overlap(item, peer) for item in labelled))
    return len(other) >= 2 and rows_labelled >= 0.9 * len(other)


def rows_overlap(item, peer) -> bool:
    """Whether two items share a row: the overlap is over half the height of `item`."""
    return min(item.bottom, peer.bottom) - max(item.top, peer.top) > 0.5 * (item.bottom - item.top)


def xy_cut(items: list, gap_x: float, gap_y: float, depth: int = 0) -> list[list]:
    """Leaves of a recursive XY-cut, in reading order: columns left to right, bands top down."""
    if len(items) <= 1 or depth > 40:
        return [items]
    one_row = max(item.top for item in items) < min(item.bottom for item in items)
    columns = split_on_gaps(items, True, gap_x * 3 if one_row else gap_x)
    if len(columns) > 1:
        columns = merge_margin_columns(columns)
    if len(columns) > 1:
        return [leaf for column in columns for leaf in xy_cut(column, gap_x, gap_y, depth + 1)]
    bands = split_on_gaps(items, False, gap_y)
    if len(bands) > 1:
        bands = merge_column_bands(bands, gap_x, gap_y)
        if len(bands) == 1:
            return [items]
        return [leaf for band in bands for leaf in xy_cut(band, gap_x, gap_y, depth + 1)]
    return [items]
