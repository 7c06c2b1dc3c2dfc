"""`make bench`: every figure measured beside its baseline in the same run, printed as
`BENCH <name> <value> <unit> ratio=<value/baseline>`. See docs/benchmarks.md."""
