"""`python -m bot` is the same program as the `warroom` console script."""

from bot.cli import main

raise SystemExit(main())
