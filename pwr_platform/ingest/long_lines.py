"""Reading logs with a line-length limit, in constant memory, whatever the longest line.

A runaway log line (a stack trace in a loop, a binary dump) can be gigabytes long. Reading it
whole to find out it is bad would exhaust memory, so both readers stop keeping a line at
:data:`~pwr_platform.ingest.records.MAX_LINE_BYTES` and count the rest as it streams past:

- JSON lines: a line is the bytes up to ``\\n``; :func:`bounded_lines` reads with a size limit and
  skips the rest of an over-long line chunk by chunk, yielding its head and its length.
- Loki ``query_range`` JSON: a "line" is the string of one ``[timestamp, line]`` value, and the
  whole document may be a single physical line, so newlines mean nothing. ijson (like any JSON
  parser) builds each string token whole, so :class:`LongStringGuard` sits between the file and
  ijson: it follows string boundaries in the raw bytes and cuts every JSON string longer than the
  limit, ending it with a marker naming the cut (:meth:`LongStringGuard.cut_length`). The parser sees at
  most the first ``MAX_LINE_BYTES`` of it; the cut string is quarantined with its true length.

Lengths are bytes as stored in the file (for Loki: JSON-escaped, as in the document).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from pwr_platform.ingest.records import MAX_LINE_BYTES

READ_BYTES = 1 << 18  # a quarter of the limit, so a string is cut at most one read past it
_BACKSLASH = ord("\\")
# The end of a cut string: U+0000 never reaches a stored line (records.py refuses it), so a line
# that ends like this was cut here; the number is the cut's key in LongStringGuard.cuts.
_MARK_RE = re.compile(r"\x00pwr-cut:([0-9]+)\Z")
_HIGH_SURROGATES = {b"d8", b"d9", b"da", b"db"}


def bounded_lines(fh: IO[bytes], limit: int = MAX_LINE_BYTES) -> Iterator[tuple[bytes, int]]:
    """(line bytes, length) per line; a line over ``limit`` is cut to its first ``limit`` bytes."""
    while True:
        raw = fh.readline(limit + 1)
        if not raw:
            return
        if len(raw) <= limit or raw.endswith(b"\n"):
            yield raw, len(raw)
            continue
        length = len(raw)
        while True:  # skip the rest of the line without keeping it
            rest = fh.readline(READ_BYTES)
            length += len(rest)
            if not rest or rest.endswith(b"\n"):
                break
        yield raw[:limit], length


def _escaped(buf: bytes, j: int, start: int) -> bool:
    """Whether ``buf[j]`` is escaped: an odd run of backslashes (from ``start`` on) before it."""
    k = j
    while k > start and buf[k - 1] == _BACKSLASH:
        k -= 1
    return (j - k) % 2 == 1


def _first_quote(buf: bytes, start: int) -> int:
    j = buf.find(b'"', start)
    while j >= 0 and _escaped(buf, j, start):
        j = buf.find(b'"', j + 1)
    return j


def _last_quote(buf: bytes, start: int) -> int:
    j = buf.rfind(b'"', start)
    while j >= 0 and _escaped(buf, j, start):
        j = buf.rfind(b'"', start, j)
    return j


def _unescaped_quotes(buf: bytes) -> int:
    """Unescaped quotes in ``buf``, which starts outside a string or between whole escapes.

    A quote is escaped when an odd run of backslashes precedes it; with c(k) the quotes preceded
    by at least k backslashes, those are c(1) - c(2) + c(3) - …, each a C-speed ``count``.
    """
    escaped, k, sign = 0, 1, 1
    while True:
        c = buf.count(b"\\" * k + b'"')
        if not c:
            return buf.count(b'"') - escaped
        escaped += sign * c
        k, sign = k + 1, -sign


def _partial_escape(buf: bytes, start: int) -> int:
    """Where an escape or a UTF-8 character left incomplete at the end of ``buf`` (inside a
    string that starts at ``start``) begins; ``len(buf)`` when the end is clean. A ``\\uXXXX``
    high surrogate (``\\ud800``-``\\udbff``) is half a character: it stays with its other half."""
    end = len(buf)
    for i in range(end - 1, max(start, end - 4) - 1, -1):  # a multi-byte character cut short
        byte = buf[i]
        if byte >= 0xC0:
            size = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            if i + size > end:
                return i
            break
        if byte < 0x80:
            break
    keep = end
    r = buf.rfind(b"\\", max(start, end - 6))
    if r >= 0 and not _escaped(buf, r, start):
        size = 6 if buf[r + 1 : r + 2] == b"u" else 2
        if r + size > end or (size == 6 and buf[r + 2 : r + 4].lower() in _HIGH_SURROGATES):
            keep = r
    high = keep - 6
    if (
        high >= start
        and buf[high : high + 2] == b"\\u"
        and buf[high + 2 : high + 4].lower() in _HIGH_SURROGATES
        and not _escaped(buf, high, start)
    ):
        keep = high
    return keep


class LongStringGuard:
    """A binary reader over a JSON document that cuts any string longer than ``limit`` bytes.

    Between reads it knows whether it is inside a string and how long that string is so far.
    Chunks are checked at C speed (unescaped quotes counted with ``bytes.count``); only the
    string open at a chunk's edges is located exactly. A partial escape at the end of a chunk is held
    back for the next one, so a cut falls between whole escapes and the document stays valid
    JSON. A cut string ends with a marker whose number :meth:`cut_length` turns into the
    string's true length (known once it closes, before the parser can yield its value).
    """

    def __init__(self, raw: IO[bytes], limit: int = MAX_LINE_BYTES, read_bytes: int = READ_BYTES) -> None:
        self.raw = raw
        self.limit = limit
        # A string that opens and closes within one read is then always under the limit.
        self.read_bytes = min(read_bytes, limit // 2)
        self.cut_count = 0
        self.carry = b""
        self.in_string = False
        self.open_len = 0  # bytes of the open string so far
        self.cut_id: int | None = None  # the open string was cut: drop it until it closes
        self.cuts: dict[int, int] = {}
        self.pending = b""
        self.eof = False

    def read(self, size: int = -1) -> bytes:
        while not self.pending and not self.eof:
            self.pending = self._next()
        if size is None or size < 0:
            out, self.pending = self.pending, b""
        else:
            out, self.pending = self.pending[:size], self.pending[size:]
        return out

    def cut_length(self, text: str) -> int | None:
        """The true length of a string this guard cut (forgotten once asked), else None."""
        if "\x00" not in text:
            return None
        match = _MARK_RE.search(text)
        return self.cuts.pop(int(match.group(1)), None) if match else None

    def _cut(self, length: int) -> bytes:
        self.cut_count += 1
        self.cut_id = self.cut_count
        self.cuts[self.cut_id] = length
        return b'\\u0000pwr-cut:%d"' % self.cut_id

    def _next(self) -> bytes:
        chunk = self.raw.read(self.read_bytes)
        if not chunk:
            self.eof = True
            tail, self.carry = self.carry, b""
            return tail
        buf, self.carry = self.carry + chunk, b""
        out: list[bytes] = []
        pos = 0
        quotes = _unescaped_quotes(buf)
        if self.in_string:
            if quotes == 0:  # the whole chunk is inside the open string
                keep = _partial_escape(buf, 0)
                self.carry = buf[keep:]
                self.open_len += keep
                if self.cut_id is not None:
                    self.cuts[self.cut_id] = self.open_len
                    return b""
                if self.open_len > self.limit:
                    return self._cut(self.open_len)
                return buf[:keep]
            close = _first_quote(buf, 0)
            length = self.open_len + close
            if self.cut_id is not None:  # marker and closing quote went out when it was cut
                self.cuts[self.cut_id] = length
            elif length > self.limit:
                out.append(self._cut(length))
            else:
                out.append(buf[: close + 1])
            self.in_string, self.cut_id, self.open_len = False, None, 0
            pos, quotes = close + 1, quotes - 1
        # From pos on, outside a string: strings opened and closed within the chunk are shorter
        # than the limit; only one still open at the end is followed.
        rest = buf[pos:] if pos else buf
        if quotes % 2 == 0:
            out.append(rest)
            return b"".join(out)
        opened = _last_quote(rest, 0)
        keep = _partial_escape(rest, opened + 1)
        self.carry = rest[keep:]
        self.in_string, self.open_len = True, keep - opened - 1
        out.append(rest[:keep])
        return b"".join(out)
