"""What runs on a compute node: the runner, environment loading, cores and thread limits, the
task's context (its cores, and its worker cluster only when it asks for one), the worker
cluster with pool()/executor(), and the joblib backend. Imports only core/.
"""
