"""Tenants' own code locations: where they are, how they are imported, governed and scaffolded."""
