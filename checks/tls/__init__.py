"""TLS challenges: every TLS endpoint a target names or implies is asked, by real handshakes, what it accepts."""
