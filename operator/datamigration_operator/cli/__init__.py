"""dmctl: the command-line interface, also the kubectl plugin kubectl-datamigration."""
