"""The slurm driver: tasks as Slurm jobs, bundles as job arrays."""

from .commands import COUNTS, scheduler_calls
from .driver import SlurmDriver, SlurmUnavailableWarning
from .dry_run import slurm_script

__all__ = ["COUNTS", "SlurmDriver", "SlurmUnavailableWarning", "scheduler_calls", "slurm_script"]
