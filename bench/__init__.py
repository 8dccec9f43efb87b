"""trouper's benchmark suite: each workload on raw Trio and on trouper, in one process.

Run it as ``python -m bench`` (``--help`` for the options). Workloads are
registered in ``bench.workloads``; ``bench.runner`` runs and reports them.
"""
