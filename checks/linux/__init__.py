"""Built-in Linux checks, one module per topic. Their fact types live in ``scanner.facts.linux``."""
