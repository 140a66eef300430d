"""One module per ``sales-model`` subcommand."""
