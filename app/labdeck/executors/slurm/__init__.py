"""The executor for a Slurm cluster reached over SSH through its login node: each node run is
one batch job (an array job for arrays), followed like a detached run (queue state, output
files from offsets, a marker file with the exit code). ``factory.FACTORY`` is what the registry
hands out; nothing here imports paramiko until a module below is imported."""
