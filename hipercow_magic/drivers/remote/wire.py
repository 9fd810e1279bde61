"""The messages between a laptop and its remote root: one request, one reply, each a JSON
header and the byte strings it refers to, read and written in one pass over a pipe.

A message is `MAGIC`, the header's length (8 bytes, little-endian), the header (JSON), then
its blobs back to back; `header["blobs"]` holds their lengths. Files travel as parts: a blob
sent in this message, or a chunk named by its SHA-256 that the remote side already keeps (see
`split_file`), so content already sent (a large captured array used by many tasks, a module
that did not change) is not sent again.
"""

from __future__ import annotations

import hashlib
import json
import struct

MAGIC = b"HCWIRE1\n"
CHUNK = 256 * 1024  # parts at least this large travel by content (sent once, then by name)


class WireError(ValueError):
    """A message that is cut short or not one of ours."""


def encode(header: dict, blobs: list[bytes] = ()) -> bytes:
    """One message: `header` (JSON-able, without "blobs") and `blobs`."""
    head = json.dumps({**header, "blobs": [len(b) for b in blobs]}).encode()
    return b"".join([MAGIC, struct.pack("<Q", len(head)), head, *blobs])


def decode(data: bytes) -> tuple[dict, list[memoryview]]:
    """The header and blobs of a message made by `encode`.

    Raises:
        WireError: the message is not one, or is cut short.
    """
    start = data.find(MAGIC)  # a login banner or shell start-up output may come first
    if start < 0:
        raise WireError("no reply from hipercow-magic on the remote side")
    view = memoryview(data)[start + len(MAGIC) :]
    if len(view) < 8:
        raise WireError("the message was cut short")
    (size,) = struct.unpack_from("<Q", view, 0)
    if len(view) < 8 + size:
        raise WireError("the message was cut short")
    header = json.loads(bytes(view[8 : 8 + size]))
    blobs, pos = [], 8 + size
    for n in header.pop("blobs", []):
        if pos + n > len(view):
            raise WireError("the message was cut short")
        blobs.append(view[pos : pos + n])
        pos += n
    return header, blobs


def digest(data) -> str:
    """The SHA-256 hex digest that names a chunk."""
    return hashlib.sha256(data).hexdigest()


def split_file(data: bytes, spans: list[tuple[int, int]]) -> list[tuple[str, bytes, str | None]]:
    """The parts of a file: its `spans` (start, end) of at least CHUNK bytes, and a whole file
    of at least CHUNK bytes with none, become chunks ("chunk", bytes, digest); the rest stays
    inline ("inline", bytes, None). Joined in order they make `data` again.
    """
    spans = [(a, b) for a, b in spans if b - a >= CHUNK]
    if not spans and len(data) >= CHUNK:
        spans = [(0, len(data))]
    parts, pos = [], 0
    view = memoryview(data)
    for start, end in sorted(spans):
        if start > pos:
            parts.append(("inline", view[pos:start], None))
        chunk = view[start:end]
        parts.append(("chunk", chunk, digest(chunk)))
        pos = end
    if pos < len(data) or not parts:
        parts.append(("inline", view[pos:], None))
    return parts


class Outgoing:
    """Files being put into a request: inline parts become blobs, chunks are named, and sent
    as blobs too unless the remote side is known to have them (`known`: digests).
    """

    def __init__(self, known: set[str]):
        self.known = known
        self.files: list[dict] = []
        self.blobs: list[bytes] = []
        self.sent: set[str] = set()  # chunks this request sends

    def add(self, path: str, data: bytes, spans: list[tuple[int, int]] = (), mtime=None) -> None:
        """Send file `path` (relative to the remote root) holding `data`."""
        parts = []
        for kind, part, name in split_file(data, list(spans)):
            if kind == "chunk" and (name in self.known or name in self.sent):
                parts.append(["chunk", name])
                continue
            parts.append(["blob", len(self.blobs)] + ([name] if name else []))
            self.blobs.append(bytes(part))
            if name:
                self.sent.add(name)
        entry = {"path": path, "parts": parts}
        if mtime is not None:
            entry["mtime"] = mtime
        self.files.append(entry)
