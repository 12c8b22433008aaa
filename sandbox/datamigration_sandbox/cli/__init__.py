"""dmctl plugins of the sandbox: `sandbox up|down|demo`, `bench ...`, `sample-db`."""
