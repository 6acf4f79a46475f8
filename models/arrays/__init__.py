"""The same math as ``models.entity`` / ``models.group``, written straight to standard-form arrays with
NumPy (the fast path for large groups and sweeps); the Pyomo model is the reference it is tested against."""
