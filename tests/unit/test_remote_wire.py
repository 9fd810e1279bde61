"""The messages of remote roots: framing, files split into chunks sent once, and the
buffers of captured values found in a locals file."""

from __future__ import annotations

import numpy as np
import pytest

from hipercow_magic.core.capture import buffer_spans, pack, pickle_values
from hipercow_magic.drivers.remote import wire


def test_a_message_round_trips_after_a_login_banner():
    blobs = [b"one", b"", bytes(range(256)) * 1000]
    data = b"Welcome to the cluster\n" + wire.encode({"op": "status", "ids": ["a"]}, blobs)
    header, got = wire.decode(data)
    assert header == {"op": "status", "ids": ["a"]}
    assert [bytes(b) for b in got] == blobs


@pytest.mark.parametrize("cut", [3, 12, 30, -1])
def test_a_message_cut_short_is_refused(cut):
    data = wire.encode({"op": "x"}, [b"payload" * 10])
    with pytest.raises(wire.WireError, match="cut short|no reply"):
        wire.decode(data[:cut])


def test_something_else_than_a_message_is_refused():
    with pytest.raises(wire.WireError, match="no reply from hipercow-magic"):
        wire.decode(b"bash: python3: command not found\n")


def test_large_buffers_of_a_locals_file_are_found_and_become_chunks():
    big = np.arange(200_000, dtype="int64")  # 1.6 MB, out of band
    entries, _ = pickle_values({"big": big, "small": 3}, None)
    data = pack(entries)
    spans = buffer_spans(data)
    assert [end - start for start, end in spans] == [big.nbytes]
    start, end = spans[0]
    assert data[start:end] == big.tobytes()
    parts = wire.split_file(data, spans)
    assert [kind for kind, _, _ in parts] == ["inline", "chunk"]
    assert b"".join(bytes(p) for _, p, _ in parts) == data
    assert parts[1][2] == wire.digest(big.tobytes())


def test_not_a_locals_file_has_no_spans():
    assert buffer_spans(b"\x00" * 7) == []
    assert buffer_spans(b"not a packed file at all, longer than sixteen bytes") == []


def test_a_chunk_known_on_the_far_side_is_named_not_sent():
    shared = bytes(range(256)) * 2048  # 512 KB
    first = wire.Outgoing(known=set())
    first.add("a/locals.pkl", b"head-a" + shared, [(6, 6 + len(shared))])
    first.add("b/locals.pkl", b"head-b" + shared, [(6, 6 + len(shared))])
    assert sum(len(b) for b in first.blobs) == len(shared) + 12  # the chunk once
    later = wire.Outgoing(known=first.sent)
    later.add("c/locals.pkl", b"head-c" + shared, [(6, 6 + len(shared))])
    assert later.blobs == [b"head-c"]
    assert later.files[0]["parts"] == [["blob", 0], ["chunk", wire.digest(shared)]]


def test_a_small_file_travels_whole_and_a_large_one_as_one_chunk():
    assert [k for k, _, _ in wire.split_file(b"small", [])] == ["inline"]
    assert [k for k, _, _ in wire.split_file(b"x" * wire.CHUNK, [])] == ["chunk"]
    assert [k for k, _, _ in wire.split_file(b"", [])] == ["inline"]
