"""The executor for Linux/macOS nodes over SSH (paramiko): pooled connection, host-key rules,
SFTP transfers, detached runs. ``factory.FACTORY`` is what the registry hands out; nothing here
imports paramiko until a module below is imported."""
