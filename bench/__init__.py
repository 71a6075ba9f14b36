"""`make bench`: how fast Clinica is on a large clinic (see README, "Benchmarks")."""
