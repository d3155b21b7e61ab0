"""Built-in Linux checks, one module per topic. Facts come from ``scanner.collectors.linux``."""
