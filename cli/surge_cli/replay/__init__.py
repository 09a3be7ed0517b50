"""Replay recorded or synthetic traffic through Surge's real state machine and through baseline policies.

`scenario` reads and validates a scenario file (the format in the brief, "Scenario files"); `world` is the
simulated fleet (units starting up, served and dropped requests); `policies` holds every policy (`surge` runs
the real ASL on moto through the local harness); `kpis` turns a run into numbers; `output` prints and plots.
"""
