"""Carbon accounting. ``allometry``: tree biomass (Chave et al. 2014), heights, wood density;
``stocks``: plot biomass, its Monte Carlo uncertainty and carbon stocks per forest stratum (docs/methods.md,
"Carbon stocks from tree inventories"). The package's other modules document themselves."""
