"""Conservation agreements: registry, compliance from forest monitoring, benefits and economics."""
