"""The public surface: exactly the intended names, each documented well enough for an API
reference (a docstring; every parameter under `Args:`; api functions say what they return).
"""

import inspect
import re

import hipercow_magic as hc
from hipercow_magic import api

API = {
    # remote roots (a cluster reached over SSH)
    "hipercow_remote_install",
    "hipercow_remote_connect",
    "hipercow_remote_disconnect",
    "hipercow_remote_status",
    # tasks: creating
    "task_create_expr",
    "task_create_explicit",
    "task_create_call",
    "task_create_script",
    "task_create_bulk_expr",
    "task_create_bulk_call",
    "task_submit",
    # tasks: looking and acting
    "Task",
    "TaskInfo",
    "task_status",
    "task_times",
    "task_summaries",
    "task_info",
    "task_scheduler_info",
    "task_result",
    "task_exports",
    "task_log_value",
    "task_log_show",
    "task_log_read",
    "task_log_watch",
    "task_wait",
    "task_why",
    "task_cancel",
    "task_retry",
    "task_list",
    "resolve_task_id",
    "hipercow_purge",
    # bundles
    "Bundle",
    "hipercow_bundle_create",
    "hipercow_bundle_load",
    "hipercow_bundle_list",
    "hipercow_bundle_delete",
    "hipercow_bundle_status",
    "hipercow_bundle_wait",
    "hipercow_bundle_result",
    "hipercow_bundle_cancel",
    "hipercow_bundle_retry",
    "hipercow_bundle_logs",
    # the root, drivers and the cluster
    "hipercow_init",
    "hipercow_root",
    "hipercow_configure",
    "hipercow_unconfigure",
    "hipercow_configuration",
    "hipercow_cluster_info",
    "hipercow_hello",
    "slurm_script",
    # what a task asks for
    "hipercow_resources",
    "hipercow_retry_policy",
    "hipercow_resources_suggest",
    "task_usage",
    "hipercow_parallel",
    "hipercow_envvars",
    # environments and provisioning
    "hipercow_environment_create",
    "hipercow_environment_list",
    "hipercow_environment_exists",
    "hipercow_environment_show",
    "hipercow_environment_delete",
    "hipercow_provision",
    "hipercow_provision_list",
    "hipercow_provision_check",
    "hipercow_provision_compare",
    # errors and settings
    "HipercowError",
    "HipercowWarning",
    "TaskNotFinishedError",
    "TaskWaitTimeout",
    "options",
}
PACKAGE_ONLY = {  # what runs inside a task, and the IPython extension's hooks
    "hipercow_parallel_get_cores",
    "hipercow_parallel_set_cores",
    "pool",
    "executor",
    "load_ipython_extension",
    "unload_ipython_extension",
    "__version__",
}


def documented_names(doc: str, section: str) -> list[str]:
    """The names an `Args:` (or `Attributes:`) section of a Google-style docstring lists."""
    match = re.search(rf"^{section}:\n((?:[ \t]+\S.*\n?|[ \t]*\n)+)", doc, re.MULTILINE)
    if match is None:
        return []
    return re.findall(r"^    (\*{0,2}\w+)(?: \([^)]*\))?:", match.group(1), re.MULTILINE)


def parameter_names(fn) -> list[str]:
    """How each parameter is written under Args: `name`, `*args`, `**kwargs`."""
    names = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            names.append("*" + p.name)
        elif p.kind is p.VAR_KEYWORD:
            names.append("**" + p.name)
        else:
            names.append(p.name)
    return names


def public(names) -> list[tuple[str, object]]:
    return [(n, getattr(hc, n)) for n in sorted(names)]


def test_all_lists_exactly_the_intended_names():
    assert len(api.__all__) == len(set(api.__all__))
    assert set(api.__all__) == API
    assert len(hc.__all__) == len(set(hc.__all__))
    assert set(hc.__all__) == API | PACKAGE_ONLY
    for name in hc.__all__:
        assert hasattr(hc, name), name


def test_internal_helpers_are_not_exported():
    # task_exists(root, task_id) leaked once, with its arguments the other way round from
    # every public task function's (task_id first, root last)
    assert not hasattr(hc, "task_exists")
    assert not hasattr(api, "task_exists")
    leaked = [
        name
        for name, value in vars(hc).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name not in hc.__all__
    ]
    assert leaked == []


def test_every_public_function_and_class_has_a_docstring():
    undocumented = []
    for name, value in public(hc.__all__):
        if inspect.isfunction(value) or inspect.isclass(value):
            if not inspect.getdoc(value):
                undocumented.append(name)
        elif type(value).__module__.startswith("hipercow_magic"):  # e.g. `options`
            if not type(value).__doc__:
                undocumented.append(name)
        if inspect.isclass(value) and value.__module__.startswith("hipercow_magic"):
            for attr, member in vars(value).items():
                if attr.startswith("_") or not (
                    inspect.isfunction(member) or isinstance(member, (property, classmethod))
                ):
                    continue
                target = member.__func__ if isinstance(member, classmethod) else member
                if not target.__doc__:
                    undocumented.append(f"{name}.{attr}")
    assert undocumented == []


def test_every_parameter_of_a_public_function_is_documented_under_args():
    missing = {}
    for name, value in public(hc.__all__):
        if not inspect.isfunction(value):
            continue
        wanted = parameter_names(value)
        listed = documented_names(inspect.getdoc(value) or "", "Args")
        absent = [p for p in wanted if p not in listed]
        extra = [p for p in listed if p not in wanted]
        if absent or extra:
            missing[name] = {"not documented": absent, "no such parameter": extra}
    assert missing == {}


def test_api_functions_say_what_they_return_and_classes_what_they_take():
    problems = []
    for name, value in public(api.__all__):
        doc = inspect.getdoc(value) or ""
        if inspect.isfunction(value):
            returns_nothing = inspect.signature(value).return_annotation in (None, "None")
            if returns_nothing == ("Returns:" in doc):
                problems.append(f"{name}: Returns: {'present' if returns_nothing else 'absent'}")
        elif inspect.isclass(value) and not issubclass(value, Exception):
            listed = documented_names(doc, "Args") + documented_names(doc, "Attributes")
            if [p for p in parameter_names(value) if p not in listed]:
                problems.append(f"{name}: not every argument documented")
    assert problems == []


def test_the_docstring_reader_finds_args_as_written():
    doc = inspect.getdoc(hc.hipercow_envvars)
    assert documented_names(doc, "Args") == ["*args", "secret", "**kwargs"]
    assert parameter_names(hc.hipercow_envvars) == ["*args", "secret", "**kwargs"]
