"""`SortedKeys`: a sorted multiset of comparable keys (tuples such as `(timestamp, id)`) with O(log n)
search, cheap inserts and removals, and positional slices: what the sandboxes' range indexes need
(a window's size from two bisections, its k-th page without walking the window).

Keys live in blocks of at most `2 * LOAD` sorted keys; `_maxes[i]` is block i's last key and `_offsets`
(recomputed lazily after a change) the number of keys before each block.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator
from itertools import accumulate
from typing import Any

LOAD = 512


class SortedKeys:
    def __init__(self, keys: Iterable[Any] = ()):
        ordered = sorted(keys)
        self._blocks: list[list[Any]] = [ordered[i : i + LOAD] for i in range(0, len(ordered), LOAD)]
        self._maxes: list[Any] = [block[-1] for block in self._blocks]
        self._offsets: list[int] | None = None
        self._len = len(ordered)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[Any]:
        for block in self._blocks:
            yield from block

    def _starts(self) -> list[int]:
        if self._offsets is None:
            self._offsets = [0, *accumulate(len(b) for b in self._blocks)]
        return self._offsets

    def add(self, key: Any) -> None:
        self._offsets = None
        self._len += 1
        if not self._blocks:
            self._blocks.append([key])
            self._maxes.append(key)
            return
        i = bisect_left(self._maxes, key)
        if i == len(self._blocks):
            i -= 1
            self._blocks[i].append(key)
            self._maxes[i] = key
        else:
            insort(self._blocks[i], key)
        block = self._blocks[i]
        if len(block) > 2 * LOAD:
            self._blocks[i : i + 1] = [block[:LOAD], block[LOAD:]]
            self._maxes[i : i + 1] = [block[LOAD - 1], block[-1]]

    def discard(self, key: Any) -> bool:
        i = bisect_left(self._maxes, key)
        if i == len(self._blocks):
            return False
        block = self._blocks[i]
        j = bisect_left(block, key)
        if j == len(block) or block[j] != key:
            return False
        del block[j]
        self._offsets = None
        self._len -= 1
        if not block:
            del self._blocks[i]
            del self._maxes[i]
        elif j == len(block):
            self._maxes[i] = block[-1]
        return True

    def bisect_left(self, key: Any) -> int:
        """The position of the first key >= `key`."""
        i = bisect_left(self._maxes, key)
        if i == len(self._blocks):
            return self._len
        return self._starts()[i] + bisect_left(self._blocks[i], key)

    def bisect_right(self, key: Any) -> int:
        """The position after the last key <= `key`."""
        i = bisect_right(self._maxes, key)
        if i == len(self._blocks):
            return self._len
        return self._starts()[i] + bisect_right(self._blocks[i], key)

    def slice(self, start: int, stop: int) -> list[Any]:
        """Keys at positions [start, stop)."""
        start, stop = max(start, 0), min(stop, self._len)
        if start >= stop:
            return []
        starts = self._starts()
        i = bisect_right(starts, start) - 1
        out: list[Any] = []
        offset = start - starts[i]
        while len(out) < stop - start and i < len(self._blocks):
            block = self._blocks[i]
            out.extend(block[offset : offset + (stop - start - len(out))])
            i, offset = i + 1, 0
        return out

    def irange(self, start: int, stop: int) -> Iterator[Any]:
        """Iterate keys at positions [start, stop) without building a list."""
        start, stop = max(start, 0), min(stop, self._len)
        if start >= stop:
            return
        starts = self._starts()
        i = bisect_right(starts, start) - 1
        remaining = stop - start
        offset = start - starts[i]
        while remaining > 0 and i < len(self._blocks):
            block = self._blocks[i]
            part = block[offset : offset + remaining]
            yield from part
            remaining -= len(part)
            i, offset = i + 1, 0
