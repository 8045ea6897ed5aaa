"""The build: PyInstaller spec, Windows installer script and the script that runs them (build.py)."""
