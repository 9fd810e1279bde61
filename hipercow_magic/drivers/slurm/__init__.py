"""The slurm driver: tasks as Slurm jobs, bundles as job arrays."""

from hipercow_magic.drivers.slurm.commands import COUNTS, scheduler_calls
from hipercow_magic.drivers.slurm.driver import SlurmDriver, SlurmUnavailableWarning

__all__ = ["COUNTS", "SlurmDriver", "SlurmUnavailableWarning", "scheduler_calls"]
