"""Windows checks (facts from scanner/facts/windows.py, collected over WinRM by one PowerShell round trip)."""
