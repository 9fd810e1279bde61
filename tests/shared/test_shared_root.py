"""A root shared by a group: two real Unix users (hcalice, hcbob) under umask 002.

Both work in it (create and run their own tasks on the local driver, list every task, read
the other's info and logs); neither can make the other run code (a queue entry written by
the other user, a task edited by the other user, a swapped pickle); what they write is
group read/write; a file the group can't read gives a HipercowError naming it.
"""

from __future__ import annotations

import os
import pickle
import stat

WAIT = 120
# A task whose value says which user ran it.
WHO = "import os\n(os.getuid(), 6 * 7)"


def create_and_wait(user, root: str, code: str = WHO, **kwargs) -> str:
    """As `user`: create a task running `code` on the local driver, wait, return its id."""
    return user.value(
        f"""
        t = hc.task_create_expr({code!r}, namespace={kwargs.get("namespace", {})!r})
        assert t.wait(timeout={WAIT}), hc.task_log_value(t.id)
        result = t.id
        """,
        cwd=root,
    )


def create_unsubmitted(user, root: str, code: str, namespace: dict | None = None) -> str:
    """As `user`: create a task without submitting it; its id."""
    return user.value(
        f"result = hc.task_create_expr({code!r}, namespace={namespace or {}!r}, driver=False).id",
        cwd=root,
    )


def task_dir(root: str, task_id: str) -> str:
    return os.path.join(root, "hipercow", "tasks", task_id[:2], task_id[2:])


def proof_code(proof: str) -> str:
    """Task code that leaves a file saying which user ran it."""
    return f"import os\nopen({proof!r} + '-' + str(os.getuid()), 'w').close()\n'ran'"


def ran(proof: str, uid: int | None = None) -> list[str]:
    """The proof files left by code that ran (one per user who ran it; only `uid`'s if given)."""
    folder, name = os.path.split(proof)
    found = sorted(n for n in os.listdir(folder) if n.startswith(name))
    return found if uid is None else [n for n in found if n.endswith(f"-{uid}")]


def proof_path(root: str, name: str) -> str:
    """A place any user may create a proof file (outside the root, world-writable)."""
    folder = os.path.join(os.path.dirname(root), "proofs")
    os.makedirs(folder, exist_ok=True)
    os.chmod(folder, 0o1777)
    return os.path.join(folder, name)


# ---- (1) both members work in the root -----------------------------------------------------
def test_both_users_create_run_list_and_read_each_others_tasks(shared_root, alice, bob):
    mine = {alice.name: create_and_wait(alice, shared_root)}
    mine[bob.name] = create_and_wait(bob, shared_root)
    for user, other in ((alice, bob), (bob, alice)):
        seen = user.value(
            f"""
            own, theirs = {mine[user.name]!r}, {mine[other.name]!r}
            info = hc.task_info(theirs)
            result = {{
                "own_result": list(hc.task_result(own)),
                "listed": sorted(hc.task_list()),
                "status": hc.task_status(theirs),
                "info": [info.id, info.status, info.data["type"]],
                "log": hc.task_log_value(theirs),
            }}
            """,
            cwd=shared_root,
        )
        # each user's task ran as that user (its own scheduler), with the right value
        assert seen["own_result"] == [user.uid, 42]
        assert seen["listed"] == sorted(mine.values())
        assert seen["status"] == "success"
        assert seen["info"] == [mine[other.name], "success", "expression"]
        assert "status: success" in seen["log"]


# ---- (2) neither can make the other run code -----------------------------------------------
def _write_queue_entry(bob, root: str, ids: list[str]) -> None:
    """As bob: a queue entry naming `ids`, written by hand into the queue of the root's owner
    (alice: `hipercow/local/queue/`), made as the driver makes them so only its owner differs.
    """
    bob.value(
        f"""
        import time
        from hipercow_magic.core.resources import hipercow_resources
        queue = os.path.join({root!r}, "hipercow", "local", "queue")
        path = os.path.join(queue, f"{{time.time_ns():020d}}.json")
        entry = {{"resources": hipercow_resources().to_dict(), "ids": {ids!r}}}
        with open(path + ".tmp", "w") as f:
            json.dump(entry, f)
        os.replace(path + ".tmp", path)
        result = path
        """,
        cwd=root,
    )


def test_a_queue_entry_written_by_another_user_is_not_run(shared_root, alice, bob):
    # alice's own task, created but never submitted, and a task bob made; bob queues both
    proof = proof_path(shared_root, "queued")
    alices = create_unsubmitted(alice, shared_root, proof_code(proof + "-alices"))
    bobs = create_unsubmitted(bob, shared_root, proof_code(proof + "-bobs"))
    _write_queue_entry(bob, shared_root, [alices, bobs])
    # alice's scheduler starts for a task of her own, queued after bob's entry; on one core,
    # first come first served, so once hers is done it has seen (and refused) bob's entry
    own = create_and_wait(alice, shared_root)
    assert ran(proof, alice.uid) == []  # (bob may run his own task, as bob: that is fine)
    statuses = alice.value(
        f"result = hc.task_status([{alices!r}, {bobs!r}]) + [hc.task_status({own!r})]",
        cwd=shared_root,
    )
    assert statuses[0] not in ("running", "success"), statuses
    assert statuses[2] == "success"
    assert ran(proof, alice.uid) == []


def test_a_task_edited_by_another_user_is_not_run(shared_root, alice, bob):
    # bob rewrites the code in alice's data.json (group-writable, still owned by alice)
    proof = proof_path(shared_root, "edited")
    task_id = create_unsubmitted(alice, shared_root, "'harmless'")
    data_json = os.path.join(task_dir(shared_root, task_id), "data.json")
    bob.value(
        f"""
        with open({data_json!r}) as f:
            data = json.load(f)
        data["code"] = {proof_code(proof)!r}
        with open({data_json!r}, "w") as f:  # in place: the file stays alice's
            json.dump(data, f)
        result = data
        """,
        cwd=shared_root,
    )
    assert os.stat(data_json).st_uid == alice.uid
    out = alice.run(
        f"""
        hc.task_submit([{task_id!r}])
        t = hc.Task({task_id!r})
        t.wait(timeout={WAIT})
        result = [t.status(), hc.task_info({task_id!r}).reason]
        """,
        cwd=shared_root,
    )
    assert ran(proof) == [], out
    if out["ok"]:
        assert out["value"][0] != "success", out


class _Evil:
    """Unpickling this creates a file: what a swapped pickle could do."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}-$(id -u)",))


def _swap(bob, path: str, blob: bytes) -> None:
    """As bob: replace `path` (in a group-writable folder) with `blob`."""
    bob.value(
        f"""
        tmp = {path!r} + ".bob"
        with open(tmp, "wb") as f:
            f.write({blob!r})
        os.replace(tmp, {path!r})
        """,
        cwd=os.path.dirname(path),
    )


def test_a_swapped_result_is_refused_and_not_unpickled(shared_root, alice, bob):
    task_id = create_and_wait(alice, shared_root)
    proof = proof_path(shared_root, "result")
    result_pkl = os.path.join(task_dir(shared_root, task_id), "result.pkl")
    with open(result_pkl, "rb") as f:
        signed = f.read()
    evil = pickle.dumps(_Evil(proof))
    # unsigned; and wearing alice's signature header (the MAC then no longer matches)
    header = signed[: signed.index(b"\n") + 1 + 32] if signed.startswith(b"HCSIG") else b""
    for blob in (evil, header + evil):
        _swap(bob, result_pkl, blob)
        out = alice.run(f"result = hc.task_result({task_id!r})", cwd=shared_root)
        assert ran(proof) == []
        assert not out["ok"] and out["hipercow"], out
        assert result_pkl in out["message"], out["message"]
        assert "sign" in out["message"], out["message"]


def test_swapped_inputs_are_refused_and_not_unpickled(shared_root, alice, bob):
    # a task whose code reads a local: its value travels in locals.pkl
    task_id = create_unsubmitted(alice, shared_root, "x + 1", namespace={"x": 41})
    locals_pkl = os.path.join(task_dir(shared_root, task_id), "locals.pkl")
    assert os.path.exists(locals_pkl)
    proof = proof_path(shared_root, "inputs")
    _swap(bob, locals_pkl, pickle.dumps(_Evil(proof)))
    out = alice.value(
        f"""
        hc.task_submit([{task_id!r}])
        t = hc.Task({task_id!r})
        t.wait(timeout={WAIT})
        result = [t.status(), hc.task_log_value({task_id!r}) or ""]
        """,
        cwd=shared_root,
    )
    assert ran(proof) == []
    status, log = out
    assert status == "failure", out
    assert "locals.pkl" in log and "sign" in log, log


# ---- (3) what each member writes, the group can read and write -----------------------------
def test_files_follow_the_umask_so_the_group_can_read_and_write(shared_root, alice, bob):
    gid = os.stat(shared_root).st_gid
    for user in (alice, bob):
        create_and_wait(user, shared_root)
    # the other's task read too (its info and log), and a task listing by each
    for user in (alice, bob):
        user.value("result = [hc.task_info(i).status for i in hc.task_list()]", cwd=shared_root)
    bad = []
    owners = set()
    for folder, dirs, files in os.walk(os.path.join(shared_root, "hipercow")):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            owners.add(st.st_uid)
            if stat.S_ISLNK(st.st_mode):
                continue
            if st.st_mode & 0o060 != 0o060 or st.st_gid != gid:
                bad.append(f"{stat.filemode(st.st_mode)} uid={st.st_uid} gid={st.st_gid} {path}")
            elif stat.S_ISDIR(st.st_mode) and not st.st_mode & stat.S_ISGID:
                bad.append(f"{stat.filemode(st.st_mode)} (no setgid) {path}")
    assert {alice.uid, bob.uid} <= owners
    assert bad == [], "\n".join(bad)


# ---- (4) PermissionError becomes a HipercowError naming the file ---------------------------
def test_an_unreadable_file_is_a_hipercow_error_naming_it(shared_root, alice, bob):
    task_id = create_and_wait(alice, shared_root)
    folder = task_dir(shared_root, task_id)
    for name, call in (
        ("log", f"hc.task_log_value({task_id!r})"),
        ("data.json", f"hc.task_info({task_id!r})"),
    ):
        path = os.path.join(folder, name)
        alice.value(f"os.chmod({path!r}, 0o600)", cwd=shared_root)
        out = bob.run(f"result = {call}", cwd=shared_root)
        assert not out["ok"], out
        assert out["hipercow"], f"{out['type']}: {out['message']}\n{out['traceback']}"
        assert path in out["message"], out["message"]
    # the rest of the root still lists for bob, the unreadable task included
    listed = bob.value("result = hc.task_list()", cwd=shared_root)
    assert task_id in listed
