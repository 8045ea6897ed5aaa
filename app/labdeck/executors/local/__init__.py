"""The executor for this computer: subprocesses, process-tree kills, plain file copies.
``factory.FACTORY`` is what the registry hands out."""
