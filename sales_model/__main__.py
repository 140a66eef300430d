"""``python -m sales_model``: the same as the ``sales-model`` console script."""

from sales_model.cli import main

raise SystemExit(main())
