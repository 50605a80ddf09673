"""Scenario suites: scripted conversations with the desk against a sandbox organisation, and
the end state each must produce. `itdesk scenarios run` loads and validates the files
(`model`), plays each in a fresh world over the real `Desk.handle` (`driver`), checks the
expectations and the safety invariants (`expect`, `invariants`), and reports (`runner`, `cli`).
"""
