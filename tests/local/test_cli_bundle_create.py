"""`hipercow bundle create NAME --data ROWS --code CODE`, run as the real command: one task per
row of a CSV or JSON file, with the task options and --after; a bad file is one clear error
naming the line, and no task is made."""

import json

import pytest
from test_cli_tables import hipercow

import hipercow_magic as hc


def created_bundle(out, root_path: str) -> hc.Bundle:
    assert out.returncode == 0, out.stderr
    return hc.hipercow_bundle_load(out.stdout.strip(), root=root_path)


def test_a_bundle_from_csv_rows_runs_the_code_once_a_row(example_root, tmp_path):
    (tmp_path / "rows.csv").write_text("beta,seed,label\n0.5,1,a\n2,7,b\n\n-1,3,c d\n")
    out = hipercow(
        "bundle", "create", "grid", "--data", "rows.csv", "--code",
        "import os\n(label, beta * seed, os.environ['FLAVOUR'])",
        "--cores", "2", "--envvar", "FLAVOUR=mint", cwd=example_root.path,
    )  # fmt: skip
    bundle = created_bundle(out, example_root.path)
    assert bundle.name == "grid" and len(bundle) == 3
    assert "Created bundle 'grid': 3 tasks" in out.stderr
    assert bundle.wait(timeout=120)
    assert bundle.result() == [("a", 0.5, "mint"), ("b", 14, "mint"), ("c d", -3, "mint")]
    info = hc.task_info(bundle.ids[1])
    assert "2 cores" in str(info)
    status = hipercow("bundle", "status", "grid", cwd=example_root.path).stdout
    assert "beta=2, seed=7, label='b'" in status


def test_a_bundle_from_json_rows_after_another_task(example_root, tmp_path):
    first = hc.task_create_expr("import time\ntime.sleep(2)\n1", namespace={})
    rows = [{"x": 1, "words": ["a", "b"]}, {"x": 2, "words": []}]
    (tmp_path / "rows.json").write_text(json.dumps(rows, indent=2))
    out = hipercow(
        "bundle", "create", "--name", "lists", "--data", "rows.json", "--code", "-",
        "--after", first.id[:8], cwd=example_root.path, input="len(words) * x\n",
    )  # fmt: skip
    bundle = created_bundle(out, example_root.path)
    assert bundle.name == "lists"
    assert bundle.wait(timeout=120)
    assert bundle.result() == [2, 0]
    assert hc.task_status(first.id) == "success"
    times = [hc.task_times(i)[0] for i in bundle.ids]
    first_finished = hc.task_times(first.id)[0]["finished"]
    assert all(t["started"] >= first_finished for t in times)


def test_columns_as_json_object_of_lists(example_root, tmp_path):
    (tmp_path / "cols.json").write_text('{"a": [1, 2, 3], "b": ["x", "y", "z"]}')
    out = hipercow(
        "bundle", "create", "cols", "--data", "cols.json", "--code", "b * a",
        cwd=example_root.path,
    )  # fmt: skip
    bundle = created_bundle(out, example_root.path)
    assert bundle.wait(timeout=120) and bundle.result() == ["x", "yy", "zzz"]


BAD_FILES = {
    "missing.csv": (None, "No file 'missing.csv'"),
    "empty.csv": ("\n  \n", "'empty.csv' is empty"),
    "names-only.csv": ("a,b\n", "'names-only.csv' has no rows"),
    "ragged.csv": ("a,b\n1,2\n3\n4,5\n", "ragged.csv, line 3: 1 values for 2 columns (a, b)"),
    "badname.csv": ("a,b c\n1,2\n", "badname.csv, line 1: 'b c' is not a Python name"),
    "twice.csv": ("a,a\n1,2\n", "twice.csv, line 1: a name appears twice"),
    "broken.json": ('[\n  {"a": 1},\n  {"a": 2,\n]\n', "broken.json, line 4: not valid JSON"),
    "mixed.json": (
        '[\n  {"a": 1, "b": 2},\n  {"a": 3, "b": 4},\n  {"a": 5, "c": 6}\n]',
        "mixed.json, line 4: this row has names a, c; the first row has a, b",
    ),
    "scalar.json": ('[\n  {"a": 1},\n  7\n]', "scalar.json, line 3: a row must be an object"),
    "uneven.json": ('{"a": [1, 2], "b": [3]}', "uneven.json: an object of columns needs"),
    "rows.txt": ("a\n1\n", "'rows.txt' is not a .csv or .json file of rows"),
    "empty-list.json": ("[]", "'empty-list.json' has no rows"),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_a_bad_file_is_one_clear_error_and_makes_no_task(example_root, tmp_path, name):
    text, message = BAD_FILES[name]
    if text is not None:
        (tmp_path / name).write_text(text)
    out = hipercow("bundle", "create", "bad", "--data", name, "--code", "1", cwd=example_root.path)
    assert out.returncode == 1
    assert out.stderr.startswith(f"Error: {message}"), out.stderr
    assert "Traceback" not in out.stderr
    assert hc.task_list() == [] and hc.hipercow_bundle_list() == []


def test_two_different_names_for_the_bundle_are_refused(example_root, tmp_path):
    (tmp_path / "rows.csv").write_text("a\n1\n")
    out = hipercow(
        "bundle", "create", "one", "--name", "two", "--data", "rows.csv", "--code", "a",
        cwd=example_root.path,
    )  # fmt: skip
    assert out.returncode == 1 and "Two names for the bundle: 'one' and --name 'two'" in out.stderr
    assert hc.task_list() == []
