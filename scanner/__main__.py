from scanner.cli import entry

entry()
