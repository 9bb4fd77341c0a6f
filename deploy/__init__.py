"""Deployment: the nginx site, the systemd unit and `make cluster` (deploy/cluster.py)."""
