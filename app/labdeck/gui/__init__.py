"""gui layer (see DESIGN.md)."""
