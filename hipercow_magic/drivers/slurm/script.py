"""Batch scripts: hipercow resources as #SBATCH options, and the script that runs the runner."""

from __future__ import annotations

import datetime as dt
import math
import shlex

from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.resource_values import resolve_hold_until
from hipercow_magic.core.resources import Resources

LOW_PRIORITY_NICE = 1000


def sbatch_options(resources: Resources, config: dict, all_nodes: list[str]) -> list[str]:
    """The #SBATCH options a task with `resources` needs (without name and output)."""
    r = resources
    opts = ["--nodes=1", "--ntasks=1"]
    if r.cores == math.inf:
        opts.append("--exclusive")
    else:
        opts.append(f"--cpus-per-task={int(r.cores)}")
        if r.exclusive:
            opts.append("--exclusive")
    queue = r.queue or config.get("partition")
    if queue:
        opts.append(f"--partition={queue}")
    if config.get("account"):
        opts.append(f"--account={config['account']}")
    if r.memory_per_node is not None:
        opts.append(f"--mem={slurm_memory(r.memory_per_node)}")
    if r.memory_per_process is not None:
        opts.append(f"--mem-per-cpu={slurm_memory(r.memory_per_process)}")
    if r.gpus:
        opts.append(f"--gres={gpu_gres(r.gpus, r.gpu_type)}")
    if r.max_runtime is not None:
        opts.append(f"--time={int(r.max_runtime)}")
    hold = resolve_hold_until(r.hold_until) if r.hold_until is not None else None
    if hold is not None and hold > dt.datetime.now():
        opts.append(f"--begin={hold.strftime('%Y-%m-%dT%H:%M:%S')}")
    if r.priority == "low":
        opts.append(f"--nice={LOW_PRIORITY_NICE}")
    if r.requested_nodes:
        if len(r.requested_nodes) == 1:
            opts.append(f"--nodelist={r.requested_nodes[0]}")
        else:
            others = [n for n in all_nodes if n not in r.requested_nodes]
            if others:
                opts.append(f"--exclude={','.join(others)}")
    opts.extend(config.get("sbatch_args") or [])
    return opts


def gpu_gres(gpus: int, gpu_type: str | None = None) -> str:
    """GPUs as Slurm's generic resource: 'gpu:2', or 'gpu:a100:2' for a type."""
    return f"gpu:{gpu_type}:{gpus}" if gpu_type else f"gpu:{gpus}"


def directive_value(value: str) -> str:
    """`value` as sbatch reads it back from an `#SBATCH --opt=VALUE` line: in double quotes,
    with backslash, double quote and '#' escaped (sbatch's own rules for directives), so a
    path with spaces stays one argument. A line break can't be written in a directive.
    """
    if "\n" in value or "\r" in value:
        raise HipercowError(f"Slurm can't be given a path with a line break: {value!r}")
    escaped = "".join("\\" + c if c in '\\"#' else c for c in value)
    return f'"{escaped}"'


def _paths(name: str, output: str, root_path: str) -> list[str]:
    return [
        f"--job-name={directive_value(name)}",
        f"--output={directive_value(output)}",
        f"--chdir={directive_value(root_path)}",
    ]


def _header(options: list[str]) -> list[str]:
    return ["#!/bin/bash"] + [f"#SBATCH {o}" for o in options]


def _cores_line(resources: Resources) -> str:
    if resources.cores == math.inf:
        return 'export HIPERCOW_CORES="${SLURM_CPUS_ON_NODE:-1}"'
    return f"export HIPERCOW_CORES={int(resources.cores)}"


def _run_lines(config: dict, root_path: str, task_id: str, log_path: str) -> list[str]:
    """Say which task runs where (the node as Slurm names it, from the job's environment:
    no command is started for it), then become the runner.
    """
    python = shlex.quote(config["python"])
    return [
        (
            f'echo "hipercow: task {task_id} on ${{SLURMD_NODENAME:-$(hostname)}} as Slurm job '
            '${SLURM_JOB_ID}${SLURM_ARRAY_TASK_ID:+ (array index $SLURM_ARRAY_TASK_ID)}"'
        ),
        (
            f"exec {python} -u -m hipercow_magic.runner {shlex.quote(root_path)} {task_id} "
            f"> {log_path} 2>&1"
        ),
    ]


def task_script(
    task_id: str,
    *,
    options: list[str],
    name: str,
    output: str,
    resources: Resources,
    config: dict,
    root_path: str,
    log_path: str,
) -> str:
    """The batch script that runs one task on its own."""
    lines = _header([*_paths(name, output, root_path), *options])
    lines += ["", *(config.get("preamble") or []), _cores_line(resources)]
    lines += _run_lines(config, root_path, task_id, shlex.quote(log_path))
    return "\n".join(lines) + "\n"


def array_script(
    map_path: str,
    count: int,
    *,
    options: list[str],
    name: str,
    output: str,
    resources: Resources,
    config: dict,
    root_path: str,
    tasks_path: str,
) -> str:
    """The batch script of a job array: element i runs the task on line i+1 of `map_path`."""
    limit = config.get("array_limit")
    array = f"0-{count - 1}" + (f"%{int(limit)}" if limit else "")
    lines = _header([*_paths(name, output, root_path), f"--array={array}", *options])
    lines += ["", *(config.get("preamble") or []), _cores_line(resources)]
    # the element's line of the map, read by bash itself (no command started for it)
    lines.append(f'mapfile -t -s "$SLURM_ARRAY_TASK_ID" -n 1 ID < {shlex.quote(map_path)}')
    log = f'{shlex.quote(tasks_path)}/"${{ID:0:2}}/${{ID:2}}/log"'
    lines += _run_lines(config, root_path, "$ID", log)
    return "\n".join(lines) + "\n"


def slurm_memory(gb: float) -> str:
    """A size in GB as Slurm's --mem takes it: '8G', or whole megabytes for a fraction
    ('0.5' -> '512M'; Slurm's G is 1024 M).
    """
    if float(gb).is_integer():
        return f"{int(gb)}G"
    return f"{math.ceil(gb * 1024)}M"
