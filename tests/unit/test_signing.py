"""core/signing: what a root holds is signed with this user's key; a file that is unsigned,
changed, moved to another task or name, or signed with another key is refused; the key is
made once (0600), even by processes racing to make it.
"""

import os
import subprocess
import sys
import textwrap

import pytest
from processes import source_environment

from hipercow_magic.core import signing
from hipercow_magic.core.errors import HipercowError

ID = "0" * 32
OTHER = "1" * 32


@pytest.fixture
def key(tmp_path, monkeypatch):
    path = tmp_path / "keys" / "signing.key"
    monkeypatch.setenv("HIPERCOW_SIGNING_KEY_FILE", str(path))
    return path


def test_signed_payload_round_trips_and_key_is_private(key):
    blob = signing.sign(b"payload", "result.pkl", ID)
    assert signing.verify(blob, "result.pkl", ID, "/r/result.pkl") == b"payload"
    assert os.stat(key).st_mode & 0o777 == 0o600


def test_changed_moved_or_unsigned_files_are_refused(key):
    blob = signing.sign(b"payload", "result.pkl", ID)
    changed = blob[:-1] + b"P"
    for bad, name, task_id in (
        (changed, "result.pkl", ID),
        (blob, "result.pkl", OTHER),  # another task's result
        (blob, "locals.pkl", ID),  # a result passed off as inputs
    ):
        with pytest.raises(HipercowError, match="signature does not verify") as e:
            signing.verify(bad, name, task_id, "/r/x.pkl")
        assert "'/r/x.pkl'" in str(e.value) and "not written by this user's" in str(e.value)
    with pytest.raises(HipercowError, match="is not signed") as e:
        signing.verify(b"\x80\x04K\x01.", "result.pkl", ID, "/r/result.pkl")
    assert "'/r/result.pkl'" in str(e.value) and "Create the task again" in str(e.value)


def test_another_users_key_does_not_verify(key, tmp_path, monkeypatch):
    blob = signing.sign(b"payload", "result.pkl", ID)
    monkeypatch.setenv("HIPERCOW_SIGNING_KEY_FILE", str(tmp_path / "other.key"))
    signing.sign(b"", "x", ID)  # the other user's key
    with pytest.raises(HipercowError, match="signature does not verify"):
        signing.verify(blob, "result.pkl", ID, "/r/result.pkl")


def test_with_no_key_nothing_verifies_and_none_is_made(key):
    blob = signing.MAGIC + b"\0" * 32 + b"payload"
    with pytest.raises(HipercowError, match="signature does not verify"):
        signing.verify(blob, "result.pkl", ID, "/r/result.pkl")
    assert not key.exists()


MAKE = textwrap.dedent(
    """
    import sys
    from hipercow_magic.core import signing
    sys.stdin.readline()
    print(signing.signing_key(create=True).hex())
    """
)


def test_processes_racing_to_make_the_key_share_one(key):
    env = source_environment({"HIPERCOW_SIGNING_KEY_FILE": str(key)})
    for _ in range(5):
        if key.exists():
            key.unlink()
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", MAKE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(6)
        ]
        outs = {p.communicate("go\n")[0].strip() for p in procs}
        assert len(outs) == 1 and outs == {key.read_text().strip()}
        assert [n for n in os.listdir(key.parent) if n != key.name] == []
