"""Live displays of tasks and bundles: ipywidgets in notebooks, the same facts as text elsewhere.

`model` holds what is known about a task or bundle, `updater` refreshes every model with one
batched status query per tick, `task_widget`/`bulk_widget` draw them, `text` prints them.
"""
