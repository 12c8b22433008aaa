"""kopf wiring: events -> observe -> plan -> execute. Importing `registration` registers the
handlers with kopf; `process.run_operator` runs them."""
