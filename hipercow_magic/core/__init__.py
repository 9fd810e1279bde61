"""Records and values: errors, the store, the root and its paths, task records, resources,
envvars, options, the parallel spec, capture, environments, provisioning records, formatting and
process helpers. Knows nothing of drivers, IPython or Jupyter.
"""
