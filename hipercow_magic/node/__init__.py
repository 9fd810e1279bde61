"""What runs on a compute node: the runner, environment loading, cores and thread limits, the
worker cluster with pool()/executor(), and the joblib backend. Imports only core/.
"""
