"""The executor for Windows nodes over WinRM (pywinrm), with file transfers over SMB or
PowerShell chunks and detached runs. ``factory.FACTORY`` is what the registry hands out; nothing
here imports pywinrm until a module below is imported."""
