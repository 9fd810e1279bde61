import datetime as dt
import math

import pytest

from hipercow_magic import HipercowError, hipercow_resources
from hipercow_magic.core.resource_values import (
    duration_to_minutes,
    parse_memory,
    resolve_hold_until,
)
from hipercow_magic.core.resources import validate_resources
from hipercow_magic.drivers.local.cluster import EXAMPLE, cluster_info

EXAMPLE_INFO = cluster_info(EXAMPLE)


@pytest.mark.parametrize(
    "value,minutes",
    [
        (35, 35),
        ("35", 35),
        ("2h30m", 150),
        ("1h30", 90),
        ("1H30M", 90),
        ("40d", 57600),
        ("2h", 120),
        ("1d2h3m", 1563),
        (2.0, 2),
    ],
)
def test_durations_accepted(value, minutes):
    assert duration_to_minutes(value, "max_runtime") == minutes


@pytest.mark.parametrize(
    "value,message",
    [
        (math.pi, "is a non-integer number of minutes"),
        (-5, "is a negative number of minutes"),
        (0, "is zero minutes"),
        ("0", "is zero minutes"),
        ("tonight", "Failed to parse string into XhYdZm format"),
        ("Kazahstan", "Failed to parse string into XhYdZm format"),
        (True, "must be a number or a string representing a duration"),
    ],
)
def test_durations_rejected(value, message):
    with pytest.raises(HipercowError) as e:
        duration_to_minutes(value, "max_runtime")
    assert f"Invalid value for 'max_runtime': {value}" in str(e.value)
    assert message in str(e.value)
    assert "Use integer minutes" in str(e.value)


@pytest.mark.parametrize(
    "value,gb",
    [
        (4, 4),
        ("8G", 8),
        ("64g", 64),
        ("1T", 1000),
        (" 4 ", 4),
        ("16GB", 16),
        (0.1, 0.1),
        (1.5, 1.5),
        ("0.5G", 0.5),
        ("300M", 0.3),
        ("2500mb", 2.5),
    ],
)
def test_memory_accepted(value, gb):
    parsed = parse_memory(value, "memory_per_node")
    assert parsed == gb
    assert isinstance(parsed, int) == float(gb).is_integer()


@pytest.mark.parametrize(
    "value,message",
    [
        ("10K", "Invalid string representation of memory for 'memory_per_node': 10K"),
        ("1G2T", "Invalid string representation of memory"),
        ("1GG", "Invalid string representation of memory"),
        ("-1G", "Invalid string representation of memory"),
        (-1, "Amount of memory must be a positive number"),
        (float("nan"), "Amount of memory must be a positive number"),
        (True, "Expected a number or a string representing a size"),
        (0, "We need some memory to run your tasks!"),
        ("0.0001G", "We need some memory to run your tasks!"),
    ],
)
def test_memory_rejected(value, message):
    with pytest.raises(HipercowError, match=message):
        parse_memory(value, "memory_per_node")


def test_cores():
    assert hipercow_resources(cores=2.0).cores == 2
    assert hipercow_resources(cores=math.inf).cores == math.inf
    assert hipercow_resources(cores="Inf").cores == math.inf
    for bad in (0, -1, 1.5, "two", float("nan")):
        with pytest.raises(HipercowError, match="Number of cores must be a positive integer"):
            hipercow_resources(cores=bad)
    with pytest.raises(HipercowError, match="'cores' must be a scalar"):
        hipercow_resources(cores=[1, 2])


def test_priority_queue_nodes():
    with pytest.raises(HipercowError, match="Could not understand priority 'high'"):
        hipercow_resources(priority="high")
    with pytest.raises(HipercowError, match="'priority' must be a character"):
        hipercow_resources(priority=1)
    with pytest.raises(HipercowError, match="'queue' must be a scalar"):
        hipercow_resources(queue=["a", "b"])
    assert hipercow_resources(queue=" fast ").queue == "fast"
    assert hipercow_resources(requested_nodes=[" a", "b", "a"]).requested_nodes == ["a", "b"]
    with pytest.raises(HipercowError, match="'nodes' must be a character"):
        hipercow_resources(requested_nodes=[1])


def test_hold_until_in_the_past_and_special_times():
    with pytest.raises(HipercowError, match="is in the past"):
        hipercow_resources(hold_until=dt.datetime.now() - dt.timedelta(hours=1))
    with pytest.raises(HipercowError, match="is in the past"):
        hipercow_resources(hold_until=dt.date.today())
    assert hipercow_resources(hold_until="tonight").hold_until == "tonight"
    assert hipercow_resources(hold_until="2h").hold_until == 120
    monday_noon = dt.datetime(2026, 11, 23, 12, 0)
    assert resolve_hold_until("tonight", monday_noon) == dt.datetime(2026, 11, 23, 19, 0)
    assert resolve_hold_until("midnight", monday_noon) == dt.datetime(2026, 11, 24, 0, 0)
    assert resolve_hold_until("weekend", monday_noon) == dt.datetime(2026, 11, 28, 0, 0)
    late = dt.datetime(2026, 11, 23, 22, 0)
    assert resolve_hold_until("tonight", late) == late
    assert resolve_hold_until(30, monday_noon) == monday_noon + dt.timedelta(minutes=30)


def test_validation_against_the_example_cluster():
    r = validate_resources(hipercow_resources(cores=4), EXAMPLE_INFO)
    assert r.queue == "alltasks"
    with pytest.raises(HipercowError) as e:
        validate_resources(hipercow_resources(cores=10), EXAMPLE_INFO)
    assert str(e.value) == ("10 is too many cores for this cluster.\nThe largest node has 4 cores.")
    with pytest.raises(HipercowError, match="64Gb per node is too large for this cluster"):
        validate_resources(hipercow_resources(memory_per_node="64G"), EXAMPLE_INFO)
    with pytest.raises(HipercowError, match="The slow queue is not available on this cluster"):
        validate_resources(hipercow_resources(queue="slow"), EXAMPLE_INFO)
    with pytest.raises(HipercowError, match="'node-9' node does not exist on this cluster"):
        validate_resources(hipercow_resources(requested_nodes=["node-1", "node-9"]), EXAMPLE_INFO)
    ok = validate_resources(
        hipercow_resources(queue="FAST", requested_nodes=["GPU-3"]), EXAMPLE_INFO
    )
    assert (ok.queue, ok.requested_nodes) == ("fast", ["gpu-3"])


def test_resources_print_like_hipercow():
    text = str(hipercow_resources(cores=2))
    assert text.startswith("hipercow resource control (hipercow_resources)")
    assert "• cores: 2" in text
    assert "Unset: 'max_runtime', 'hold_until'" in text
