"""`python -m service` runs the quantam command line."""

from service.cli import main

main()
