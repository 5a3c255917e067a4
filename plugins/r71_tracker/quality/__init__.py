"""Quality gate: GX checks on the marts, results kept in audit.expectation_results.

Importing this package is cheap; Great Expectations is imported only inside the gate's functions.
"""
