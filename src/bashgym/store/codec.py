"""How values become column values and back: timestamps, JSON columns, compressed text, and one row decoder.

Every repository decodes rows through `decode_row`, so a JSON column reads the same everywhere.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import zstandard


def now_iso() -> str:
    """UTC now as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (isoformat: several times faster than strftime's %f)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def dumps(value: Any) -> str | None:
    """JSON text for a column; None stays NULL. Non-JSON values (bytes, sets) are stringified."""
    if value is None:
        return None
    return orjson.dumps(value, default=str).decode()


def loads(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


# Raw source lines and long step outputs are kept zstd-compressed at a fast level (-3): ~5x faster than
# zlib here and still about 16x smaller than the text.
# One compressor and one decompressor per thread: making one costs more than (de)compressing a typical
# output, and python-zstandard's objects must not be used by two threads at once.
_CODECS = threading.local()

COMPRESS_OUTPUT_CHARS = 1024


def _compressor() -> zstandard.ZstdCompressor:
    try:
        return _CODECS.compressor
    except AttributeError:
        _CODECS.compressor = zstandard.ZstdCompressor(level=-3)
        return _CODECS.compressor


def compress(data: bytes | memoryview) -> bytes:
    return _compressor().compress(data)


def decompress(blob: bytes | memoryview) -> bytes:
    try:
        decompressor = _CODECS.decompressor
    except AttributeError:
        decompressor = _CODECS.decompressor = zstandard.ZstdDecompressor()
    return decompressor.decompress(blob)


def decompress_text(blob: bytes | memoryview) -> str:
    return decompress(blob).decode("utf-8", "surrogatepass")


def output_columns(output: str | None) -> tuple[str | None, bytes | None]:
    """(output, output_z) column values: long outputs are stored compressed."""
    if output is not None and len(output) > COMPRESS_OUTPUT_CHARS:
        return None, compress(output.encode("utf-8", "surrogatepass"))
    return output, None


_PG_UNSAFE = re.compile("[\x00\ud800-\udfff]")


def pg_unsafe(text: str) -> bool:
    """True when PostgreSQL's text type cannot hold `text` (a NUL, or a lone surrogate from undecodable
    bytes): such an output is stored compressed there, which keeps it exactly."""
    return _PG_UNSAFE.search(text) is not None


def pg_text(value: Any) -> Any:
    """A str PostgreSQL's text type can hold: NULs and lone surrogates become U+FFFD (prompts and messages
    rarely have them; outputs, which do, are kept exactly by `pg_output_columns`)."""
    if isinstance(value, str) and _PG_UNSAFE.search(value):
        return _PG_UNSAFE.sub("\ufffd", value)
    return value


def pg_output_columns(output: str | None) -> tuple[str | None, bytes | None]:
    """`output_columns` for PostgreSQL: also compress an output its text type cannot hold."""
    if output is not None and len(output) <= COMPRESS_OUTPUT_CHARS and pg_unsafe(output):
        return None, compress(output.encode("utf-8", "surrogatepass"))
    return output_columns(output)


def decode_row(
    row: Mapping[str, Any], *, json: Iterable[str] = (), json_dicts: Iterable[str] = (),
    json_lists: Iterable[str] = (), bools: Iterable[str] = (),
) -> dict[str, Any]:
    """A row as a dict: `json` columns parsed (NULL stays None), `json_dicts` / `json_lists` parsed with
    NULL read as {} / [], `bools` as bool. The one place rows are decoded, for every backend."""
    d = dict(row)
    for key in json:
        d[key] = loads(d[key])
    for key in json_dicts:
        d[key] = loads(d[key]) or {}
    for key in json_lists:
        d[key] = loads(d[key]) or []
    for key in bools:
        d[key] = bool(d[key])
    return d
