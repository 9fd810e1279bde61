"""What a live display knows about a task or a bundle, refreshed by the updater.

Models fetch through the api only; views (widgets or text) render them. The updater hands
each model its status from one batched query per tick; a model then fetches whatever the
new status makes necessary (times once, the result once, the scheduler's view now and then).
`common` holds what both kinds share, `task` one task's model, `bulk` a bundle's.
"""

from hipercow_magic.widgets.model.bulk import (
    BulkModel,
    detail_text,
    durations,
    failure_line,
    row_label,
)
from hipercow_magic.widgets.model.common import Model, error_text, value_repr
from hipercow_magic.widgets.model.task import TaskModel

__all__ = [
    "BulkModel",
    "Model",
    "TaskModel",
    "detail_text",
    "durations",
    "error_text",
    "failure_line",
    "row_label",
    "value_repr",
]
