"""``python -m scanner`` and the ``gxpscan`` script (``scanner.__main__:main``): the command.

The cyclic garbage collector's thresholds are raised (``scanner.GC_THRESHOLDS``) before the command's modules are
imported: importing them makes some hundred thousand long-lived objects (classes, functions, compiled patterns),
and the default thresholds walked them some forty times, 5 ms of every start. Only for gxpscan's own process: a
program that imports scanner keeps its settings.

Then, for a scan of code on a machine with a second CPU, the child that collects its facts while the command's
modules load is started (``scanner.prefetch``): before those imports, or it would only start after them."""
import gc
import sys

from scanner import GC_THRESHOLDS


def main() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    from scanner.prefetch import start

    prefetch = start(sys.argv[1:])  # a scan of code: its facts collected beside the imports (scanner/prefetch.py)
    from scanner.cli import entry

    entry(prefetch)


if __name__ == "__main__":
    main()
