"""Built-in profiles (data): gxp-baseline.yaml and strict.yaml. See scanner/profiles.py and the README, section Profiles."""
