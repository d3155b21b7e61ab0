"""I/O for challenge tests: one module per transport, each exchange returns a scanner.challenge.Probe."""
