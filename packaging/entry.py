"""Entry point of the bundled app: no arguments opens the window, arguments run the CLI."""

import sys

from livesegment.cli import gui_main, main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]) if len(sys.argv) > 1 else gui_main())
