"""What each benchmark writes for people: ``report.md`` and its plots, one module per benchmark, computed from the
benchmark's ``results.json`` record alone (so a report can be rebuilt from a finished run)."""
