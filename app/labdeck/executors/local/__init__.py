"""The executor for this computer: subprocesses (in Job Objects on Windows), plain file copies.
``factory.FACTORY`` is what the registry hands out."""
