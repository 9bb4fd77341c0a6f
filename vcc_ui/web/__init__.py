"""The web layer: REST routes, their dependencies, errors and schemas, and the gate and identity middleware."""
