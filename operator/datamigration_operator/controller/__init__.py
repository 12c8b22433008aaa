"""Between the pure planner and the API: observe (API objects -> Observation) and execute
(Action -> kube calls)."""
