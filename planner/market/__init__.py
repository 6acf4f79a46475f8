"""Market-wide simulation: the equilibrium CEA price path of all covered entities in one market
(``engine``: the market as a group; ``check``: clearing and each entity's optimality at the prices)."""
