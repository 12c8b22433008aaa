"""Pure manifest builders: Jobs, ConfigMap and workload patches. No Kubernetes client here."""
