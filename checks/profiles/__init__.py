"""Built-in profiles (data): gxp-baseline.yaml and strict.yaml; see scanner/profiles.py and the README."""
