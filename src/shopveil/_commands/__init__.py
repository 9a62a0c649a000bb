"""The command-line commands, one module per area; ``shopveil.cli`` registers them."""
