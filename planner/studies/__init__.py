"""Studies: variants of a case, sweeps (local processes or Dask), stochastic plans, and their plots."""
