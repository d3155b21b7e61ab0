"""``python -m scanner`` and the ``gxpscan`` script (``scanner.__main__:main``): the command.

The cyclic garbage collector's thresholds are raised (``scanner.GC_THRESHOLDS``) before the command's modules are
imported: importing them makes some hundred thousand long-lived objects (classes, functions, compiled patterns),
and the default thresholds walked them some forty times, 5 ms of every start. Only for gxpscan's own process: a
program that imports scanner keeps its settings."""
import gc

from scanner import GC_THRESHOLDS


def main() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    from scanner.cli import entry

    entry()


if __name__ == "__main__":
    main()
