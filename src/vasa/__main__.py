"""`python -m vasa ...`: the `vasa` command where the package is on the path but not installed
(a training machine given only the source tree)."""

from vasa.cli import main

raise SystemExit(main())
