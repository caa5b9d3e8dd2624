"""One adapter per domain: reads its ``icam.toml`` section and calls the domain with typed parameters."""
