"""Jinja2 templates of failure notifications (package so the .j2 files ship as package data)."""
