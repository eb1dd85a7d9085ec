"""Ilopiste registers: the domain below the Chalice wiring in app.py."""
