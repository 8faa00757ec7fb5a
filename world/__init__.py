"""The locked support world: domains (records, tools, policy, tasks), user simulators, scoring.

Stdlib only. No candidate can change it; its hash is recorded with every run.
"""
