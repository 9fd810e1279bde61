"""Live displays of tasks and bundles: ipywidgets in notebooks, the same facts as text elsewhere.

`model` holds what is known about a task or bundle, `updater` refreshes every model with one
batched status query per tick, `task_widget`/`bulk_widget` draw them, `text` prints them.
A finished display becomes a static record (`live`), drawn from the same HTML (`parts`) in
the theme's colours (`style`), so a saved notebook shows how each task ended.
"""
