"""The ``sales-model`` command line: the imperative shell around the model and its engines."""
